// The datastore conformance suite on the in-memory datastore, in both transaction modes.
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { describeDatastoreConformance } from '@libcalico-ts/datastore/testing';

describeDatastoreConformance('memory', async () => {
  const datastore = createMemoryDatastore();
  return { datastore, cleanup: () => datastore.close() };
});

// The memory datastore configured like Kubernetes: no multi-key transactions.
describeDatastoreConformance('memory (atomicTransactions: false)', async () => {
  const datastore = createMemoryDatastore({ atomicTransactions: false });
  return { datastore, cleanup: () => datastore.close() };
});

// A tiny history: resuming watches still works within it, and compaction by trimming is seen.
describeDatastoreConformance(
  'memory (historyLimit: 64, compaction by trimming)',
  async () => {
    const datastore = createMemoryDatastore({ historyLimit: 64 });
    return { datastore, cleanup: () => datastore.close() };
  },
  {
    // Push the old revisions out of the bounded history instead of calling compact().
    compact: async (datastore) => {
      for (let i = 0; i < 70; i++) await datastore.applyKV({ type: 'handle', handleId: `filler-${i}` }, { block: {}, deleted: false });
    },
  },
);
