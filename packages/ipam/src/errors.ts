/**
 * IPAM-specific errors. Each keeps libcalico-go's message text (so logs and tools read the same)
 * and extends `CalicoError` from `@libcalico-ts/api`. Generic failures reuse the shared classes:
 * `ValidationError` (bad input, nothing written), `ResourceNotFoundError` (unknown handle,
 * unassigned address, missing node), `ResourceExistsError` (address already assigned),
 * `UpdateConflictError` (stale release request; exhausted CAS retries are {@link MaxRetriesError}).
 */
import { CalicoError, type CalicoErrorOptions } from '@libcalico-ts/api';
import type { AutoAssignResult } from './types.js';

/** AutoAssign would need a new block but the host already holds the per-host limit (libcalico-go ErrBlockLimit). */
export class BlockLimitError extends CalicoError {
  static override readonly errorName: string = 'BlockLimitError';
  constructor(options: CalicoErrorOptions = {}) {
    super('cannot allocate new block due to per host block limit', options);
  }
}

/** No pool qualifies for the request (libcalico-go ErrNoQualifiedPool), optionally naming the intended use. */
export class NoQualifiedPoolError extends CalicoError {
  static override readonly errorName: string = 'NoQualifiedPoolError';
  readonly intendedUse?: string;
  constructor(intendedUse?: string, options: CalicoErrorOptions = {}) {
    super(
      intendedUse === undefined
        ? 'cannot find a qualified ippool'
        : `cannot find a qualified ippool, no pools match the required use (${intendedUse})`,
      options,
    );
    if (intendedUse !== undefined) this.intendedUse = intendedUse;
  }
}

/** A Windows host found StrictAffinity disabled (libcalico-go ErrStrictAffinity). */
export class StrictAffinityRequiredError extends CalicoError {
  static override readonly errorName: string = 'StrictAffinityRequiredError';
  constructor(options: CalicoErrorOptions = {}) {
    super('global strict affinity should not be false for Windows node', options);
  }
}

/** Compare-and-swap retries were exhausted (upstream: 100) — excessive concurrent IPAM requests. */
export class MaxRetriesError extends CalicoError {
  static override readonly errorName: string = 'MaxRetriesError';
  override readonly isRetryable = true;
  constructor(message = 'Max retries hit - excessive concurrent IPAM requests', options: CalicoErrorOptions = {}) {
    super(message, options);
  }
}

/** The address is released but still cooling down (libcalico-go ErrorIPInCooldown). */
export class IPInCooldownError extends CalicoError {
  static override readonly errorName: string = 'IPInCooldownError';
  constructor(ip: string, options: CalicoErrorOptions = {}) {
    super(`address ${ip} is in cooldown`, { identifier: ip, ...options });
  }
}

/**
 * Other IPAM failures, told apart by `code`:
 * - `noBlock`: AutoAssign could not find or claim a block (`failed to find or claim a block`);
 * - `noPoolsForNode`: no pool selects the node (`no configured Calico pools for node <host>`);
 * - `blockNotEmpty`: an affinity release required an empty block (`block '<cidr>' is not empty`);
 * - `claimConflict`: another host owns the block (`<cidr> already claimed by <affinity>`);
 * - `notInPool`: an address or CIDR is in no (enabled) pool;
 * - `notAllowedUse`: the pool does not allow the intended use;
 * - `affinityMismatch`: StrictAffinity forbids using a block of another host;
 * - `insufficientFree`: a just-claimed block has no free address;
 * - `staleBlock`: the block changed since it was read (required sequence number).
 */
export class IPAMError extends CalicoError {
  static override readonly errorName: string = 'IPAMError';
  readonly code: IPAMErrorCode;
  constructor(code: IPAMErrorCode, message: string, options: CalicoErrorOptions = {}) {
    super(message, options);
    this.code = code;
  }
}

export type IPAMErrorCode =
  | 'noBlock'
  | 'noPoolsForNode'
  | 'blockNotEmpty'
  | 'claimConflict'
  | 'notInPool'
  | 'notAllowedUse'
  | 'affinityMismatch'
  | 'insufficientFree'
  | 'staleBlock';

/**
 * Errors thrown by `autoAssign` after some addresses were already assigned carry them here (as
 * libcalico-go returns the partial result next to the error). Release them (e.g. by handle) if
 * the caller gives up.
 */
export interface PartialAssignment {
  partialResult?: AutoAssignResult;
}

/** Attaches `result` to `error` as `partialResult` (non-enumerable) and returns the error. */
export function withPartialResult<E>(error: E, result: AutoAssignResult): E {
  if (typeof error === 'object' && error !== null) {
    Object.defineProperty(error, 'partialResult', { value: result, enumerable: false, configurable: true });
  }
  return error;
}

/** The partial result attached to an `autoAssign` error, if any. */
export function partialResultOf(error: unknown): AutoAssignResult | undefined {
  return typeof error === 'object' && error !== null ? (error as PartialAssignment).partialResult : undefined;
}
