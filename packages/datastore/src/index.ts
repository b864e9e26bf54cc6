// Public surface of @libcalico-ts/datastore.
export * from './contract.js';
export * from './paths.js';
