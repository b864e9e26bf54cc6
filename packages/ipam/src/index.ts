// Public surface of @libcalico-ts/ipam.
export { IPAM, createIPAM, partialFulfillmentError, DEFAULT_MAX_BLOCKS_PER_HOST, DEFAULT_CACHE_TTL_MS, WRITE_POINTS } from './engine.js';
export type { IPAMOptions, IPAMClock, WriteHooks, WritePoint } from './engine.js';
export {
  BlockLimitError,
  NoQualifiedPoolError,
  StrictAffinityRequiredError,
  MaxRetriesError,
  IPInCooldownError,
  IPAMError,
  partialResultOf,
} from './errors.js';
export type { IPAMErrorCode, PartialAssignment } from './errors.js';
export { IntendedUse, WINDOWS_RESERVED_HANDLE } from './types.js';
export type {
  AutoAssignArgs,
  AutoAssignResult,
  IPAMAssignments,
  AssignIPArgs,
  ReleaseOptions,
  ReleaseResult,
  AssignmentAttributes,
  AffinityConfig,
  ClaimAffinityResult,
  EnsureBlockArgs,
  EnsureBlockResult,
  HostReservedAttr,
  NamespaceInfo,
  BlockUtilization,
  PoolUtilization,
  UtilizationArgs,
  IPAMConfigUpdate,
  IPAMConfig,
} from './types.js';
export { GoRandSource, goBigRand, fnv1Hash32, hostStartIndex } from './gorand.js';
export type { IPAMCheckReport, CheckedAllocation, StrandedAffinity, GCOptions, GCResult, NodeReleaseResult } from './check.js';
