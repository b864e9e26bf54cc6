/**
 * Dataplane benchmark (needs root; runs only inside its own network namespace):
 * program 10,000 routes into an empty namespace, then a no-op reconcile of the same set,
 * plus the cost of entering a namespace (worker start) as the CNI plugin pays it per pod.
 */
import { createNetns, deleteNetns, openNetns, type RouteSpec } from '@libcalico-ts/dataplane';
import { targetRow, type Bench, type BenchRow } from './lib.js';

const bench: Bench = async (context) => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    context.log('dataplane: skipped (needs root on Linux for network namespaces)');
    return [];
  }
  const count = context.quick ? 2_000 : 10_000;
  const name = `lcts-bench-${process.pid}`;
  const rows: BenchRow[] = [];
  await createNetns(name);
  try {
    let t = performance.now();
    const session = await openNetns(name);
    rows.push({ name: 'netns worker start (openNetns)', value: performance.now() - t, unit: 'ms' });
    try {
      await session.setLinkUp('lo');
      await session.createVethPair({ name: 'eth0', peerName: 'peer0' });
      await session.setLinkUp('eth0');
      await session.setLinkUp('peer0');
      const desired: RouteSpec[] = [];
      for (let i = 0; i < count; i++) {
        const dst = `10.${(i >> 14) & 0xff}.${(i >> 6) & 0xff}.${(i & 0x3f) << 2}/30`;
        desired.push(i % 2 === 0 ? { dst, type: 'blackhole' } : { dst, gateway: '192.168.3.126', dev: 'eth0', onlink: true });
      }
      context.log(`dataplane: programming ${count} routes`);
      t = performance.now();
      const first = await session.reconcileRoutes(desired, { protocol: 80, families: [4] });
      const programMs = performance.now() - t;
      if (first.add.length !== count) throw new Error(`expected ${count} additions, got ${first.add.length}`);
      rows.push({ name: `program ${count} routes (reconcile from empty)`, value: programMs, unit: 'ms' });
      // The no-op reconcile (dump + diff, nothing written) is repeated; best and median are reported
      // because a shared machine's load inflates single wall-clock samples.
      const samples: number[] = [];
      for (let run = 0; run < 7; run++) {
        t = performance.now();
        const again = await session.reconcileRoutes(desired, { protocol: 80, families: [4] });
        samples.push(performance.now() - t);
        if (!again.noop) throw new Error('repeated reconcile was not a no-op');
      }
      samples.sort((a, b) => a - b);
      rows.push(targetRow(`no-op reconcile of ${count} routes (best of 7)`, samples[0]!, 'ms', '<', 100));
      rows.push({ name: `no-op reconcile of ${count} routes (median of 7)`, value: samples[3]!, unit: 'ms' });
    } finally {
      await session.close();
    }
  } finally {
    await deleteNetns(name, { ignoreMissing: true });
  }
  return rows;
};

export default bench;
