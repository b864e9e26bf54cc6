/**
 * The allocating process of test/reliability/sigkill-write-points.test.ts. It runs a small
 * CNI-and-node-agent workload against real etcd and, when told to, SIGKILLs itself at a named
 * IPAM write point (before or after its N-th write there) — a real process death, with the
 * connection torn down mid-protocol.
 *
 * Run: node --import tsx --conditions=source test/helpers/reliability-child.ts
 * Configuration: the JSON in the environment variable RELIABILITY_CHILD (see ChildConfig).
 * Output (stdout, one JSON object a line, written synchronously so nothing is lost at the kill):
 *   {"op":"start"|"done","step":...}   progress of each workload step
 *   {"op":"points","counts":{...}}     write points reached (only when the workload finishes)
 */
import { writeSync } from 'node:fs';
import { ResourceNotFoundError } from '@libcalico-ts/api';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { createIPAM, type WritePoint } from '@libcalico-ts/ipam';
import { seed } from './reliability.js';
import { handleOf, workload, type ChildConfig } from './reliability-workload.js';

function emit(record: object): void {
  writeSync(1, `${JSON.stringify(record)}\n`);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env.RELIABILITY_CHILD ?? '') as ChildConfig;
  const datastore = createEtcdDatastore({ endpoints: config.endpoints });
  const counts: Record<string, number> = {};
  const die = (point: WritePoint, when: 'before' | 'after') => {
    const k = config.kill;
    if (!k || k.point !== point || k.when !== when) return;
    if (counts[point] !== k.nth) return;
    emit({ op: 'dying', point, nth: k.nth, when });
    process.kill(process.pid, 'SIGKILL');
    // SIGKILL to oneself is delivered before any further JavaScript runs; never go on.
    for (;;) {
      // unreachable
    }
  };
  const ipam = createIPAM(datastore, {
    useTransactions: config.atomic,
    hooks: {
      beforeWrite(point) {
        counts[point] = (counts[point] ?? 0) + 1;
        die(point, 'before');
      },
      afterWrite(point) {
        die(point, 'after');
      },
    },
  });
  for (const step of workload(config.run)) {
    emit({ op: 'start', step });
    switch (step.kind) {
      case 'config':
        await ipam.setIPAMConfig({ strictAffinity: false, autoAllocateBlocks: true });
        break;
      case 'add': {
        const out = await ipam.autoAssign({
          num4: 1,
          hostname: step.host,
          intendedUse: 'Workload',
          handleId: handleOf(step.pod),
          attrs: { node: step.host, namespace: 'default', pod: step.pod },
        });
        const ip = out.ipv4!.ips[0]!.split('/')[0]!;
        await seed.endpoint(datastore, 'default', step.pod, step.host, [`${ip}/32`]);
        break;
      }
      case 'del':
        try {
          await ipam.releaseByHandle(handleOf(step.pod));
        } catch (error) {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
        }
        await datastore.deleteKV({ type: 'resource', kind: 'WorkloadEndpoint', namespace: 'default', name: step.pod }).catch((error: unknown) => {
          if (!ResourceNotFoundError.isInstance(error)) throw error;
        });
        break;
      case 'releaseHost':
        await ipam.releaseHostAffinities({ host: step.host });
        break;
    }
    emit({ op: 'done', step });
  }
  emit({ op: 'points', counts });
  await datastore.close();
}

main().catch((error: unknown) => {
  emit({ op: 'error', message: String((error as Error)?.stack ?? error) });
  process.exit(2);
});
