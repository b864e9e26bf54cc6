// Public surface of @libcalico-ts/api.
export * from './errors.js';
export * from './kinds.js';
export type * from './meta.js';
export * from './enums.js';
export type * from './resources.js';
export type { FelixConfigurationSpecFields } from './generated/felix-configuration-spec.js';
export { newResource } from './new-resource.js';
export { applyDefaults, BGP_DEFAULTS, IPPOOL_DEFAULTS } from './defaults.js';
export { collectValidationErrors, validateResource, parsePeerIP } from './validate.js';
export { loadManifests, dumpManifests } from './manifests.js';
export type { LoadManifestsOptions, DumpManifestsOptions } from './manifests.js';
export {
  workloadEndpointName,
  parseWorkloadEndpointName,
  workloadEndpointNamePrefix,
} from './names.js';
export type { WorkloadEndpointIdentifiers } from './names.js';
export { parseASNumber } from './internal/values.js';
// Error classes of the lower packages, re-exported so users need one import.
export { InvalidAddressError, InvalidCIDRError, InvalidMACError, OutOfRangeError } from '@libcalico-ts/net';
export { SelectorParseError } from '@libcalico-ts/selector';
