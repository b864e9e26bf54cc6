/**
 * The datastore conformance suite (from @libcalico-ts/datastore/testing) against a real etcd
 * started for this file.
 */
import { after } from 'node:test';
import { describeDatastoreConformance } from '@libcalico-ts/datastore/testing';
import { createEtcdDatastore } from '@libcalico-ts/datastore-etcd';
import { compactEtcd, startEtcd, type EtcdServer } from '../helpers/etcd.js';

const servers: EtcdServer[] = [];
let shared: Promise<EtcdServer> | undefined;

/** One server for the whole file (the suite also builds a second datastore for its close() test). */
function server(): Promise<EtcdServer> {
  shared ??= startEtcd().then((s) => {
    servers.push(s);
    return s;
  });
  return shared;
}

describeDatastoreConformance(
  'etcd',
  async () => {
    const etcd = await server();
    const datastore = createEtcdDatastore({ endpoints: etcd.endpoints });
    return {
      datastore,
      cleanup: async () => {
        await datastore.close();
      },
    };
  },
  {
    // Compact etcd at its current revision: every revision handed out so far becomes too old.
    compact: async () => compactEtcd((await server()).endpoints),
  },
);

after(async () => {
  for (const s of servers.splice(0)) await s.stop();
});
