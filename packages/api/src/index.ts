// Public surface of @libcalico-ts/api.
export * from './errors.js';
export * from './kinds.js';
export type * from './meta.js';
export * from './enums.js';
export type * from './resources.js';
export type { FelixConfigurationSpecFields } from './generated/felix-configuration-spec.js';
export { newResource } from './new-resource.js';
