// Public surface of @libcalico-ts/datastore-etcd/gateway: the etcd datastore over etcd's JSON
// gateway, for short-lived processes. Loads neither etcd3/gRPC nor node:http.
export { createEtcdGatewayDatastore, gatewayRequestCount, prefetching, warmUpEtcdGateway } from './gateway/datastore.js';
export type { EtcdGatewayDatastoreOptions, PrefetchRead } from './gateway/datastore.js';
