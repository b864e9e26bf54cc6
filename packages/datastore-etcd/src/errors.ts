/**
 * Translation of etcd3 / gRPC / cockatiel errors into libcalico-ts error classes. Nothing from
 * etcd3 escapes this package: every failure leaves through {@link translateEtcdError}.
 */
import {
  CalicoError,
  DatastoreError,
  DatastoreUnavailableError,
  WatchTooOldError,
  type ErrorIdentifier,
} from '@libcalico-ts/api';

/** Error class names (etcd3 1.x) that mean "the server could not be reached or did not answer in time". */
const UNAVAILABLE = new Set([
  'GRPCUnavailableError',
  'GRPCDeadlineExceededError',
  'GRPCInternalError',
  'GRPCCancelledError',
  'GRPCResourceExhastedError',
  'GRPCAbortedError',
  'EtcdWatchStreamEnded',
  'BrokenCircuitError',
  'IsolatedCircuitError',
  'TaskCancelledError',
]);

const UNAVAILABLE_MESSAGE = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|no connection established|failed to connect|connection dropped|deadline exceeded|no leader|leader changed|request timed out|too many requests|handshake|UNAVAILABLE/i;
const COMPACTED = /required revision has been compacted|compacted/i;
const AUTH = /GRPCUnauthenticatedError|EtcdPermissionDeniedError|EtcdAuthenticationFailedError|EtcdInvalidAuthTokenError/;

export interface TranslateContext {
  /** What the operation was about (for the error identifier). */
  identifier?: ErrorIdentifier;
  /** The revision a watch or historical read asked for (for WatchTooOldError). */
  revision?: string;
  /** A short description of the operation, e.g. `get /calico/...`. */
  operation?: string;
}

/**
 * Maps any error thrown by etcd3 to a libcalico-ts error:
 * - unreachable, timeouts, leader loss, broken circuits -> `DatastoreUnavailableError` (retryable);
 * - authentication/permission refusals -> `DatastoreUnavailableError` (not retryable);
 * - a compacted revision -> `WatchTooOldError`;
 * - a closed client -> `DatastoreError`;
 * - anything else -> `DatastoreError` with the original as `cause`.
 * libcalico-ts errors pass through unchanged.
 */
export function translateEtcdError(error: unknown, context: TranslateContext = {}): CalicoError {
  if (CalicoError.isInstance(error)) return error as CalicoError;
  const err = error instanceof Error ? error : new Error(String(error));
  const name = err.constructor?.name ?? err.name;
  const where = context.operation ? `${context.operation}: ` : '';
  const options = { cause: error, ...(context.identifier !== undefined ? { identifier: context.identifier } : {}) };
  if (COMPACTED.test(err.message)) {
    return new WatchTooOldError(context.revision ?? 'unknown', options);
  }
  if (AUTH.test(name)) {
    return new DatastoreUnavailableError(`${where}etcd refused the credentials: ${err.message}`, { ...options, isRetryable: false });
  }
  if (name === 'ClientClosedError') {
    return new DatastoreError(`${where}the etcd datastore is closed`, options);
  }
  if (UNAVAILABLE.has(name) || UNAVAILABLE.has(err.name) || UNAVAILABLE_MESSAGE.test(err.message)) {
    return new DatastoreUnavailableError(`${where}etcd is unavailable: ${err.message}`, options);
  }
  return new DatastoreError(`${where}etcd request failed: ${err.message}`, options);
}
