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
export {
  BirdPeerType,
  birdPeersFromProtocols,
  formatBirdPeerTable,
  formatNodeStatus,
  parseBirdProtocols,
  parseBirdReply,
  queryBird,
  readBirdPeers,
} from './status.js';
export type {
  BirdConnection,
  BirdFamilyStatus,
  BirdPeerStatus,
  BirdProtocol,
  BirdReplyLine,
  QueryBirdOptions,
} from './status.js';
