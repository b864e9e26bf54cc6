// Public surface of @libcalico-ts/api.
export * from './errors.js';
export * from './kinds.js';
export type * from './meta.js';
