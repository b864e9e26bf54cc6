/**
 * Runs the README's main job (examples/demo) as `npm run demo` does (without the build step) and
 * checks its key lines against the seeds: the four blocks of the observed cluster, their usage,
 * worker2's IPIP routes, the BIRD mesh peers, the release on node deletion and the VXLAN
 * CrossSubnet routes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('npm run demo', () => {
  it('prints every section with the seed cluster', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', 'examples/demo/src/main.ts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(Date.now() - started < 30_000, 'the demo takes a few seconds');
    const out = r.stdout;
    for (const title of ['1. calicoctl get ippool -o wide', '4. calicoctl ipam show --show-blocks', '5. ip route on worker2-k8s.myk8s.example.com', '6. BIRD configuration', '7. calicoctl delete node worker3-k8s.myk8s.example.com', '8. Pool switched to VXLAN CrossSubnet']) {
      assert.ok(out.includes(`== ${title}`), `section ${title}`);
    }
    // The seeds' `calicoctl ipam show --show-blocks` of this cluster: same blocks, same usage.
    const section4 = out.slice(out.indexOf('== 4.'), out.indexOf('== 5.'));
    for (const line of [
      '| IP Pool  | 10.244.0.0/16     |     65536 |    16 (0%) |       0 (0%) | 65520 (100%) |',
      '| Block    | 10.244.202.128/26 |        64 |     4 (6%) |       0 (0%) |     60 (94%) |',
      '| Block    | 10.244.218.64/26  |        64 |     4 (6%) |       0 (0%) |     60 (94%) |',
      '| Block    | 10.244.238.192/26 |        64 |     4 (6%) |       0 (0%) |     60 (94%) |',
      '| Block    | 10.244.56.64/26   |        64 |     4 (6%) |       0 (0%) |     60 (94%) |',
    ]) assert.ok(section4.includes(line), line);
    // worker2's routes as in the seeds' route table, in `ip route` form (IPIP via tunl0, BIRD).
    const section5 = out.slice(out.indexOf('== 5.'), out.indexOf('== 6.'));
    for (const line of [
      '10.244.56.64/26 via 192.168.3.144 dev tunl0 proto bird onlink',
      '10.244.202.128/26 via 192.168.3.146 dev tunl0 proto bird onlink',
      '10.244.218.64/26 via 192.168.3.141 dev tunl0 proto bird onlink',
      'blackhole 10.244.238.192/26 proto bird',
    ]) assert.ok(section5.includes(line), line);
    assert.match(section5, /^10\.244\.238\.19[3-9] dev cali[0-9a-f]{11} scope link$/m);
    const section6 = out.slice(out.indexOf('== 6.'), out.indexOf('== 7.'));
    assert.match(section6, /router id 192\.168\.3\.145;/);
    for (const peer of ['141', '144', '146']) assert.match(section6, new RegExp(`protocol bgp Mesh_192_168_3_${peer} from bgp_template \\{\\n  neighbor 192\\.168\\.3\\.${peer} as 64512;`));
    const section7 = out.slice(out.indexOf('== 7.'), out.indexOf('== 8.'));
    assert.ok(!section7.includes('10.244.202.128/26'), 'worker3 block released');
    assert.ok(section7.includes('| IP Pool  | 10.244.0.0/16     |     65536 |    12 (0%) |       0 (0%) | 65524 (100%) |'));
    const section8 = out.slice(out.indexOf('== 8.'));
    assert.match(section8, /default-ipv4-ippool {3}10\.244\.0\.0\/16 {3}true {3}Never {6}CrossSubnet/);
    // Same subnet: CrossSubnet routes go straight out of ens192, no tunnel.
    assert.ok(section8.includes('10.244.56.64/26 via 192.168.3.144 dev ens192'), section8);
    assert.ok(!/tunl0|vxlan\.calico/.test(section8), 'no encapsulation inside one subnet');
    assert.ok(!section8.includes('10.244.202.128'), 'no route to the deleted node');
  });
});
