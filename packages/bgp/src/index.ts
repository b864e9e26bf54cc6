// Public surface of @libcalico-ts/bgp.
export { renderBirdConfig, renderBirdConfigWithWarnings, normalizeBirdConfig } from './render.js';
export { BIRD_FILE_NAMES } from './types.js';
export type {
  BirdConfigFiles,
  BirdConfigWarning,
  BirdConfigWarningCode,
  BirdDialect,
  BirdEnvironment,
  BirdFileName,
  BlockAffinityInput,
  KubernetesObject,
  LocalWorkloadPeer,
  RenderBirdConfigOptions,
  RenderBirdConfigResult,
  SecretLookup,
} from './types.js';
