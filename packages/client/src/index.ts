// Public surface of @libcalico-ts/client.
export { createClient } from './client.js';
export type { Client, ClientOptions, EnsureInitializedOptions } from './client.js';
export {
  PinningClient,
  PinningError,
  PinningErrorCode,
  pinReservationName,
  PIN_LABEL,
  PIN_OWNER_ANNOTATION,
  PINNED_HANDLE_PREFIX,
  PINNED_OWNER_ATTRIBUTE,
} from './pinning.js';
export type {
  Pin,
  PinOptions,
  AssignPinnedOptions,
  PinnedAssignment,
  UnpinOptions,
  AddressAllocation,
  AddressOwner,
  PinningContext,
} from './pinning.js';
export { ResourceStore, wholeSecondTimestamp } from './resource-store.js';
export type { StoreContext, CheckContext, WriteOperation } from './resource-store.js';
export {
  IPPoolClient,
  NodeClient,
  WorkloadEndpointClient,
  PolicyClient,
  TierClient,
  BGPPeerClient,
  ProfileClient,
  BlockAffinityClient,
  DEFAULT_ALLOW_PROFILE,
  defaultAllowProfile,
  PROTECTED_TIERS,
  TIER_LABEL,
} from './kinds.js';
export type { KindContext, KindClients, NodeCleanup, PolicyKind } from './kinds.js';
export type {
  ResourceClient,
  WriteOptions,
  GetOptions,
  DeleteOptions,
  ListOptions,
  ResourceWatchOptions,
  ResourceList,
  ResourceWatchEvent,
  ResourceWatch,
} from './types.js';
export { DatastoreType, applyConfigDefaults, calicoAPIConfigFromEnv, parseCalicoAPIConfig, defaultEnvironment } from './config.js';
export type { CalicoAPIConfig, CalicoAPIConfigSpec, Environment } from './config.js';
export {
  BACKEND_PACKAGES,
  createClientFromConfig,
  createClientFromConfigFile,
  createClientFromEnv,
  createDatastoreFromConfig,
  loadCalicoAPIConfigFile,
  loadEtcdBackend,
  loadKubernetesBackend,
} from './backends.js';
export type { ClientFromConfigOptions, ConfigOptions, ConfiguredDatastore } from './backends.js';
