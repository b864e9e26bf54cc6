// Public surface of @libcalico-ts/datastore.
export * from './contract.js';
export * from './paths.js';
export {
  describeKey,
  describeList,
  ipVersionOf,
  keyId,
  keyIdentifier,
  keyMatchesList,
  keyProblems,
  normalizeKey,
  validateKey,
  validateList,
} from './keys.js';
export { createMemoryDatastore, isMemoryDatastore } from './memory.js';
export type { MemoryDatastore, MemoryDatastoreOptions, WriteOperationInfo } from './memory.js';
export { cloneData } from './values.js';
export { SyncStatus, createSyncer, defaultBackoff } from './syncer.js';
export type { SyncUpdate, Syncer, SyncerCallbacks, SyncerOptions } from './syncer.js';
