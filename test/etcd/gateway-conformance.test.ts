/**
 * The datastore conformance suite (from @libcalico-ts/datastore/testing) against the JSON-gateway
 * etcd datastore (@libcalico-ts/datastore-etcd/gateway) on a real etcd started for this file.
 *
 * The gateway datastore declares `watch: false`: the suite skips its watch cases (each reported
 * with the reason) and checks instead that `watchKV` is refused with OperationNotSupportedError.
 * The transaction and list-condition cases run: the datastore declares both capabilities.
 */
import { after } from 'node:test';
import { Etcd3 } from 'etcd3';
import { describeDatastoreConformance } from '@libcalico-ts/datastore/testing';
import { createEtcdGatewayDatastore } from '@libcalico-ts/datastore-etcd/gateway';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';

let shared: Promise<EtcdServer> | undefined;
const server = (): Promise<EtcdServer> => (shared ??= startEtcd());

describeDatastoreConformance(
  'etcd gateway',
  async () => {
    const etcd = await server();
    const datastore = createEtcdGatewayDatastore({ endpoints: etcd.endpoints });
    return { datastore, cleanup: () => datastore.close() };
  },
  {
    compact: async () => {
      const etcd = await server();
      const raw = new Etcd3({ hosts: etcd.endpoints });
      try {
        const { header } = await raw.kv.range({ key: Buffer.from('/calico/') });
        await raw.kv.compact({ revision: header.revision, physical: true });
      } finally {
        raw.close();
      }
    },
  },
);

after(async () => {
  if (shared) await (await shared).stop();
});
