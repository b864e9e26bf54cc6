/**
 * Translation of etcd3 / gRPC / cockatiel errors, and of the JSON gateway's error answers and
 * transport failures, into libcalico-ts error classes. Nothing from etcd3 or the HTTP client
 * escapes this package: every failure leaves through {@link translateEtcdError}.
 *
 * Free of `etcd3`, gRPC and `node:http` (the gateway entry imports it).
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
  // The gateway's HTTP client: connect, reset, timeout or malformed answer.
  'Http1ConnectionError',
]);

const UNAVAILABLE_MESSAGE = /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|no connection established|failed to connect|connection dropped|deadline exceeded|no leader|leader changed|request timed out|too many requests|handshake|UNAVAILABLE/i;
const COMPACTED = /required revision has been compacted|compacted/i;
const AUTH = /GRPCUnauthenticatedError|EtcdPermissionDeniedError|EtcdAuthenticationFailedError|EtcdInvalidAuthTokenError/;

/**
 * An error answer of etcd's JSON gateway: the HTTP status and, when the body carried one, the
 * gRPC status code and message of the failed call (`{"error", "code", "message"}`).
 */
export class EtcdGatewayStatusError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
    readonly code: number | undefined,
  ) {
    super(message);
    this.name = 'EtcdGatewayStatusError';
  }
}

/** gRPC status codes that mean "not served now, try again / elsewhere" (as the gRPC error classes above). */
const UNAVAILABLE_CODES = new Set([
  1, // Cancelled
  4, // DeadlineExceeded
  8, // ResourceExhausted
  10, // Aborted
  13, // Internal
  14, // Unavailable
]);
/** PermissionDenied, Unauthenticated. */
const AUTH_CODES = new Set([7, 16]);

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
 * - gateway answers ({@link EtcdGatewayStatusError}) by their gRPC code: unavailable codes and
 *   HTTP 502/503/504 -> `DatastoreUnavailableError`, credential refusals as above, else `DatastoreError`;
 * - gateway transport failures (`Http1ConnectionError`) -> `DatastoreUnavailableError`;
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
  if (err instanceof EtcdGatewayStatusError) {
    if (err.code !== undefined && AUTH_CODES.has(err.code)) {
      return new DatastoreUnavailableError(`${where}etcd refused the credentials: ${err.message}`, { ...options, isRetryable: false });
    }
    if ((err.code !== undefined && UNAVAILABLE_CODES.has(err.code)) || err.httpStatus === 503 || err.httpStatus === 502 || err.httpStatus === 504) {
      return new DatastoreUnavailableError(`${where}etcd is unavailable: ${err.message}`, options);
    }
    return new DatastoreError(`${where}etcd request failed: ${err.message}`, options);
  }
  if (name === 'ClientClosedError') {
    return new DatastoreError(`${where}the etcd datastore is closed`, options);
  }
  if (UNAVAILABLE.has(name) || UNAVAILABLE.has(err.name) || UNAVAILABLE_MESSAGE.test(err.message)) {
    return new DatastoreUnavailableError(`${where}etcd is unavailable: ${err.message}`, options);
  }
  return new DatastoreError(`${where}etcd request failed: ${err.message}`, options);
}
