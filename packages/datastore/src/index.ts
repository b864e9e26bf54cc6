// Public surface of @libcalico-ts/datastore.
export * from './contract.js';
