// iptables-restore apply / read-back / idempotence, inside throwaway namespaces only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CommandError, IptablesApplier, filterTable, natTable, parseIptablesSave } from '@libcalico-ts/dataplane';
import { netnsUnavailableReason, nsExec, withNetns } from '../helpers/netns.js';

function iptablesReason(): string | null {
  const base = netnsUnavailableReason();
  if (base) return base;
  try {
    execFileSync('sh', ['-c', 'command -v iptables && command -v iptables-save'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'iptables is not installed';
  }
}
const skip = iptablesReason();

const pools = [
  { cidr: '10.244.0.0/16', natOutgoing: true },
  { cidr: '10.10.0.0/16', natOutgoing: false },
];

test('nat table: applied atomically, read back, idempotent, repaired after tampering', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    const applier = new IptablesApplier({ netns: ns });
    const version = execFileSync('iptables', ['-V'], { encoding: 'utf8' });
    assert.equal(await applier.detectBackend(), version.includes('nf_tables') ? 'nft' : 'legacy');
    // A foreign rule already in POSTROUTING (kube-proxy style) must be kept, and ours appended after it.
    nsExec(ns, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.0.2.0/24', '-j', 'RETURN']);
    const def = natTable({ pools, match: 'cidr', tunnelDevices: ['vxlan.calico'] });
    const first = await applier.apply(def);
    assert.equal(first.changed, true);
    assert.match(first.input, /^\*nat\n/);
    const saved = nsExec(ns, ['iptables-save', '-t', 'nat']);
    const nat = parseIptablesSave(saved).get('nat')!;
    assert.deepEqual(
      nat.get('cali-nat-outgoing')!.rules.map((r) => r.text.replace(/-m comment --comment "?cali:[\w-]+"? /, '')),
      ['-d 10.244.0.0/16 -j RETURN', '-d 10.10.0.0/16 -j RETURN', '-s 10.244.0.0/16 -j MASQUERADE --random-fully'],
    );
    const post = nat.get('POSTROUTING')!.rules;
    assert.equal(post[0]!.text, '-s 192.0.2.0/24 -j RETURN', 'foreign rule first');
    assert.equal(post[1]!.hash, '0i8pjzKKPyA34aQD', 'our jump appended after it');
    assert.equal(nat.get('PREROUTING')!.rules[0]!.hash, '6gwbT8clXdHdC1b1');
    assert.equal(nat.get('OUTPUT')!.rules[0]!.hash, 'tVnHkvAo15HuiPy0');
    assert.match(saved, /-A cali-POSTROUTING -o vxlan\.calico .*cali:e9dnSgSVNmIcpVhP.* -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL -j MASQUERADE --random-fully/);

    // Second apply: nothing to do, nothing run.
    const second = await applier.apply(def);
    assert.deepEqual([second.changed, second.input], [false, '']);
    assert.equal(nsExec(ns, ['iptables-save', '-t', 'nat']).replace(/^#.*\n/gm, ''), saved.replace(/^#.*\n/gm, ''));

    // Tampering: a duplicate jump inserted at the top and a rule appended to a Calico chain.
    nsExec(ns, ['iptables', '-t', 'nat', '-I', 'POSTROUTING', '1', '-m', 'comment', '--comment', 'cali:0i8pjzKKPyA34aQD', '-j', 'cali-POSTROUTING']);
    nsExec(ns, ['iptables', '-t', 'nat', '-A', 'cali-nat-outgoing', '-j', 'ACCEPT']);
    await assert.rejects(applier.verify(def), /differs/);
    const repaired = await applier.apply(def);
    assert.equal(repaired.changed, true);
    await applier.verify(def);
    const post2 = parseIptablesSave(nsExec(ns, ['iptables-save', '-t', 'nat'])).get('nat')!.get('POSTROUTING')!.rules;
    assert.deepEqual(post2.map((r) => r.hash), [null, '0i8pjzKKPyA34aQD']);

    // Pools change: only the nat-outgoing chain is rewritten; an unwanted cali- chain is removed.
    nsExec(ns, ['iptables', '-t', 'nat', '-N', 'cali-stale']);
    const next = await applier.apply(natTable({ pools: [pools[0]!], match: 'cidr', tunnelDevices: ['vxlan.calico'] }));
    assert.match(next.input, /^:cali-nat-outgoing - -$/m);
    assert.doesNotMatch(next.input, /^:cali-POSTROUTING/m);
    assert.match(next.input, /^-X cali-stale$/m);
    assert.doesNotMatch(nsExec(ns, ['iptables-save', '-t', 'nat']), /cali-stale|10\.10\.0\.0/);
  });
});

test('filter table: forward path with a workload applies and is idempotent', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    const applier = new IptablesApplier({ netns: ns });
    const def = filterTable({
      workloads: [{ interface: 'cali573926084b2', profiles: ['kns.default', 'ksa.default.default'] }],
      profiles: [{ name: 'kns.default', allowAll: true }],
    });
    assert.equal((await applier.apply(def)).changed, true);
    const filter = parseIptablesSave(nsExec(ns, ['iptables-save', '-t', 'filter'])).get('filter')!;
    assert.deepEqual(filter.get('FORWARD')!.rules.map((r) => r.hash), ['wUHhoiAYhphO9Mso', 'S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM']);
    assert.equal(filter.get('cali-FORWARD')!.rules.length, 6);
    assert.equal(filter.get('cali-tw-cali573926084b2')!.rules[0]!.hash, 'B2p1QycTq6IYECET');
    assert.equal((await applier.apply(def)).changed, false);
  });
});

test('a rejected restore changes nothing and reports the input', { skip: skip ?? false }, async () => {
  await withNetns(1, async (ns) => {
    const applier = new IptablesApplier({ netns: ns });
    const before = nsExec(ns, ['iptables-save']);
    const bad = { table: 'nat' as const, chains: [{ name: 'cali-bad', rules: [{ action: '--jump cali-does-not-exist' }] }] };
    await assert.rejects(applier.apply(bad), (e: unknown) => CommandError.isInstance(e) && /cali-bad/.test((e as Error).message));
    assert.equal(nsExec(ns, ['iptables-save']), before);
  });
});
