// Public surface of @libcalico-ts/datastore-etcd.
export { createEtcdDatastore } from './datastore.js';
export type { EtcdDatastoreOptions } from './datastore.js';
export { decodeEtcdValue, encodeEtcdValue, POLICY_NAME_ANNOTATION } from './codec.js';
export { encodeGoJson, goString, parseJsonLossless } from './json.js';
