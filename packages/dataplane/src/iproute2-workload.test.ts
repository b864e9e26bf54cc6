import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError, ResourceExistsError } from '@libcalico-ts/api';
import type { CommandRunner, CommandResult } from './command.js';
import {
  configureWorkloadVethIproute2,
  createWorkloadVethIproute2,
  planWorkloadInterfaceIproute2,
  randomContainerMac,
  setupWorkloadInterfaceIproute2,
  teardownWorkloadInterfaceIproute2,
} from './iproute2-workload.js';

const NETNS = '/proc/self/ns/net';

/** A runner that records commands and answers from a script. */
function fakeRunner(answer: (command: readonly string[], input: string) => Partial<CommandResult> = () => ({})): CommandRunner & { calls: { command: string[]; input: string }[] } {
  const calls: { command: string[]; input: string }[] = [];
  return {
    calls,
    async run(command, options = {}) {
      calls.push({ command: [...command], input: options.input ?? '' });
      return { exitCode: 0, stdout: '', stderr: '', ...answer(command, options.input ?? '') };
    },
  };
}

describe('iproute2 workload plumbing (plan)', () => {
  it('creates the pair with both MACs, MTUs and the peer in the pod namespace', () => {
    const plan = planWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'calic440f455693', ipv4: ['10.244.208.1/26'], mtu: 1450, containerMac: '02:11:22:33:44:55' });
    assert.deepEqual(plan.createLink, [
      'ip', 'link', 'add', 'calic440f455693', 'mtu', '1450', 'address', 'ee:ee:ee:ee:ee:ee', 'type', 'veth',
      'peer', 'name', 'eth0', 'mtu', '1450', 'address', '02:11:22:33:44:55', 'netns', NETNS,
    ]);
    assert.deepEqual(plan.ipv4, ['10.244.208.1/32']);
    assert.equal(plan.hostBatch, 'link set dev calic440f455693 up\nroute add 10.244.208.1/32 dev calic440f455693 scope link proto boot metric 0\n');
    assert.equal(
      plan.containerBatch,
      'link set dev eth0 up\nroute replace 169.254.1.1/32 dev eth0 scope link\nroute replace 0.0.0.0/0 via 169.254.1.1 dev eth0\naddress add 10.244.208.1/32 dev eth0\n',
    );
    assert.deepEqual(plan.hostSysctls.map((s) => `${s.key.join('.')}=${s.value}`), [
      'net.ipv4.conf.calic440f455693.route_localnet=1',
      'net.ipv4.neigh.calic440f455693.proxy_delay=0',
      'net.ipv4.conf.calic440f455693.proxy_arp=1',
      'net.ipv4.conf.calic440f455693.forwarding=1',
      'net.ipv6.conf.calic440f455693.accept_ra=0',
    ]);
  });

  it('adds IPv6 routes via the host link-local address, nodad addresses and queue counts', () => {
    const plan = planWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'cali1', ipv6: ['fd00::5'], numQueues: 4, routes6: ['fd00:1::/64'], allowIpForwarding: true });
    assert.match(plan.containerBatch, /route replace fd00:1::\/64 via fe80::ecee:eeff:feee:eeee dev eth0\n/);
    assert.match(plan.containerBatch, /address add fd00::5\/128 dev eth0 nodad\n/);
    assert.doesNotMatch(plan.containerBatch, /169\.254/);
    assert.deepEqual(plan.createLink.filter((a) => a === 'numtxqueues').length, 2);
    // Positional parameters: interface, forwarding value, IPv6 flag, IPv4 flag, ip binary.
    assert.deepEqual(plan.containerCommand.slice(-5), ['eth0', '1', '1', '0', 'ip']);
  });

  it('never interpolates input into the shell script', () => {
    const plan = planWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'cali1', ipv4: ['10.0.0.1'], containerIfName: 'e$(x)' });
    const script = plan.containerCommand[5]!;
    assert.doesNotMatch(script, /e\$\(x\)/);
    assert.equal(plan.containerCommand[7], 'e$(x)');
  });

  it('rejects bad input with ValidationError naming the field', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ hostIfName: 'a-very-long-interface-name' }, 'hostIfName'],
      [{ ipv4: ['10.0.0.300'] }, 'ipv4[0]'],
      [{ ipv4: ['fd00::1'] }, 'ipv4[0]'],
      [{ ipv4: [] }, 'ipv4'],
      [{ mtu: 10 }, 'mtu'],
      [{ containerMac: '01:00:00:00:00:01' }, 'containerMac'],
      [{ numQueues: 0 }, 'numQueues'],
      [{ routes4: ['10.0.0.1/8'] }, 'routes4[0]'],
      [{ containerNetns: 'rel/path' }, 'containerNetns'],
    ];
    for (const [override, field] of bad) {
      assert.throws(
        () => planWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'cali1', ipv4: ['10.0.0.1'], ...override } as never),
        (error: unknown) => ValidationError.isInstance(error) && (error as ValidationError).fields.some((f) => f.name === field),
        field,
      );
    }
  });

  it('random container MACs are unicast and locally administered', () => {
    for (let i = 0; i < 200; i++) {
      const first = parseInt(randomContainerMac().slice(0, 2), 16);
      assert.equal(first & 1, 0);
      assert.equal(first & 2, 2);
    }
  });
});

describe('iproute2 workload plumbing (runner)', () => {
  const sysctls: string[] = [];
  const sysctlWriter = async (key: readonly string[], value: string) => {
    sysctls.push(`${key.join('.')}=${value}`);
  };

  it('runs create, then the pod-side command, then (after the host sysctls) the host batch', async () => {
    const runner = fakeRunner();
    const order: string[] = [];
    const recordingWriter = async (key: readonly string[], value: string) => {
      order.push(`sysctl (after ${runner.calls.length} commands)`);
      await sysctlWriter(key, value);
    };
    const r = await setupWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', ipv4: ['10.0.0.1'], runner, sysctlWriter: recordingWriter, containerMac: '02:00:00:00:00:01' });
    assert.equal(r.containerMac, '02:00:00:00:00:01');
    assert.deepEqual(runner.calls.map((c) => c.command.slice(0, 3).join(' ')), ['ip link add', 'nsenter --net=/proc/self/ns/net --', 'ip -batch -']);
    assert.ok(order.length > 0 && order.every((o) => o === 'sysctl (after 2 commands)'), 'host sysctls precede the host batch');
    assert.ok(sysctls.includes('net.ipv4.conf.lctsfake0.proxy_arp=1'));
  });

  it('deletes the veth again when the pod side fails', async () => {
    const runner = fakeRunner((command) => (command[0] === 'nsenter' ? { exitCode: 1, stderr: 'RTNETLINK answers: Invalid argument' } : {}));
    await assert.rejects(setupWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', ipv4: ['10.0.0.1'], runner, sysctlWriter }), /Invalid argument/);
    assert.deepEqual(runner.calls.at(-1)!.command, ['ip', 'link', 'del', 'dev', 'lctsfake0']);
  });

  it('reports a host route held by another interface as ResourceExistsError', async () => {
    const runner = fakeRunner((command) => {
      if (command[1] === '-batch') return { exitCode: 2, stderr: 'RTNETLINK answers: File exists\nCommand failed -:2' };
      if (command.includes('exact')) return { stdout: '10.0.0.1 dev cali999 scope link\n' };
      return {};
    });
    await assert.rejects(
      setupWorkloadInterfaceIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', ipv4: ['10.0.0.1'], runner, sysctlWriter }),
      (error: unknown) => ResourceExistsError.isInstance(error) && /already exists for an interface other than 'lctsfake0': cali999/.test((error as Error).message),
    );
    assert.deepEqual(runner.calls.at(-1)!.command, ['ip', 'link', 'del', 'dev', 'lctsfake0']);
  });

  it('teardown ignores a missing interface and a missing namespace', async () => {
    const runner = fakeRunner(() => ({ exitCode: 1, stderr: 'Cannot find device "eth0"' }));
    assert.equal(await teardownWorkloadInterfaceIproute2({ containerNetns: NETNS, runner }), false);
    assert.equal(await teardownWorkloadInterfaceIproute2({ containerNetns: '/var/run/netns/lcts-does-not-exist', runner }), false);
    assert.equal(runner.calls.length, 1);
  });

  it('split path: create makes only the pair, configure does the rest with the same MAC', async () => {
    const runner = fakeRunner();
    const veth = await createWorkloadVethIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', mtu: 1450, runner });
    assert.deepEqual(runner.calls.map((c) => c.command.slice(0, 3).join(' ')), ['ip link add']);
    assert.equal(runner.calls[0]!.command.at(-3), veth.containerMac);
    assert.deepEqual({ ...veth, containerMac: '' }, { hostIfName: 'lctsfake0', containerIfName: 'eth0', hostMac: 'ee:ee:ee:ee:ee:ee', containerMac: '', mtu: 1450 });
    const r = await configureWorkloadVethIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', mtu: 1450, containerMac: veth.containerMac, ipv4: ['10.0.0.7'], runner, sysctlWriter });
    assert.deepEqual(runner.calls.map((c) => c.command.slice(0, 3).join(' ')), ['ip link add', 'nsenter --net=/proc/self/ns/net --', 'ip -batch -']);
    assert.match(runner.calls[1]!.input, /address add 10\.0\.0\.7\/32 dev eth0/);
    assert.equal(r.containerMac, veth.containerMac);
  });

  it('split path: create validates before touching anything; configure deletes the pair on bad input', async () => {
    const runner = fakeRunner();
    await assert.rejects(createWorkloadVethIproute2({ containerNetns: NETNS, hostIfName: 'x'.repeat(16), runner }), (e: unknown) => ValidationError.isInstance(e));
    await assert.rejects(createWorkloadVethIproute2({ containerNetns: '/var/run/netns/lcts-does-not-exist', hostIfName: 'lctsfake0', runner }), /does-not-exist/);
    assert.equal(runner.calls.length, 0);
    await assert.rejects(configureWorkloadVethIproute2({ containerNetns: NETNS, hostIfName: 'lctsfake0', ipv4: ['10.0.0.300'], runner, sysctlWriter }), (e: unknown) => ValidationError.isInstance(e));
    assert.deepEqual(runner.calls.map((c) => c.command), [['ip', 'link', 'del', 'dev', 'lctsfake0']]);
  });
});
