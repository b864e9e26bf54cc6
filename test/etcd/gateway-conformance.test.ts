/**
 * The datastore conformance suite (from @libcalico-ts/datastore/testing) against the JSON-gateway
 * etcd datastore (@libcalico-ts/datastore-etcd/gateway) on a real etcd started for this file.
 *
 * The gateway datastore declares `watch: false`: the suite skips its watch cases (each reported
 * with the reason) and checks instead that `watchKV` is refused with OperationNotSupportedError.
 * The transaction and list-condition cases run: the datastore declares both capabilities.
 */
import { after } from 'node:test';
import { describeDatastoreConformance } from '@libcalico-ts/datastore/testing';
import { createEtcdGatewayDatastore } from '@libcalico-ts/datastore-etcd/gateway';
import { compactEtcd, startEtcd, type EtcdServer } from '../helpers/etcd.js';

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
    // Compact etcd at its current revision: every revision handed out so far becomes too old.
    compact: async () => compactEtcd((await server()).endpoints),
  },
);

after(async () => {
  if (shared) await (await shared).stop();
});
