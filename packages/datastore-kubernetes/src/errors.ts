/**
 * Translation of Kubernetes API failures into libcalico-ts errors. This is the edge: no
 * `ApiException`, fetch/socket error or raw `Status` body gets past it.
 *
 * | Kubernetes                                  | libcalico-ts                                   |
 * |---------------------------------------------|------------------------------------------------|
 * | 404 NotFound                                | `ResourceNotFoundError`                        |
 * | 409 AlreadyExists                           | `ResourceExistsError`                          |
 * | 409 Conflict (resourceVersion/precondition) | `UpdateConflictError` (retryable)              |
 * | 410 Gone / Expired                          | `WatchTooOldError`                             |
 * | 422 Invalid, 400 BadRequest                 | `ValidationError` (fields from `details.causes`) |
 * | 429, 500, 502, 503, 504                     | `DatastoreUnavailableError` (retryable)        |
 * | 401, 403, anything else                     | `DatastoreError`                               |
 * | connection refused/reset, timeout, DNS      | `DatastoreUnavailableError` (retryable)        |
 * | TLS verification failure                    | `DatastoreUnavailableError` (not retryable)    |
 */
import {
  CalicoError,
  DatastoreError,
  DatastoreUnavailableError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
  type ErrorIdentifier,
  type FieldError,
} from '@libcalico-ts/api';

/** The fields of a Kubernetes `Status` object this package reads. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
}

/** Parses a response body as a `Status`, defensively: undefined for anything else (HTML, text, truncated JSON). */
export function parseStatus(body: unknown): KubeStatus | undefined {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (v.kind !== 'Status' && typeof v.reason !== 'string' && typeof v.code !== 'number') return undefined;
  const status: KubeStatus = {};
  if (typeof v.kind === 'string') status.kind = v.kind;
  if (typeof v.status === 'string') status.status = v.status;
  if (typeof v.message === 'string') status.message = v.message;
  if (typeof v.reason === 'string') status.reason = v.reason;
  if (typeof v.code === 'number') status.code = v.code;
  if (typeof v.details === 'object' && v.details !== null) {
    const d = v.details as Record<string, unknown>;
    status.details = {};
    if (typeof d.name === 'string') status.details.name = d.name;
    if (typeof d.group === 'string') status.details.group = d.group;
    if (typeof d.kind === 'string') status.details.kind = d.kind;
    if (Array.isArray(d.causes)) {
      status.details.causes = d.causes
        .filter((c): c is Record<string, unknown> => typeof c === 'object' && c !== null)
        .map((c) => ({
          reason: typeof c.reason === 'string' ? c.reason : undefined,
          message: typeof c.message === 'string' ? c.message : undefined,
          field: typeof c.field === 'string' ? c.field : undefined,
        }));
    }
  }
  return status;
}

function snippet(text: string): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > 200 ? `${t.slice(0, 200)}...` : t;
}

/**
 * Maps an HTTP error response (status code and body text, or a parsed Status) to a CalicoError
 * about `identifier`.
 */
export function errorFromResponse(code: number, body: string | KubeStatus | undefined, identifier?: ErrorIdentifier, cause?: unknown): CalicoError {
  const status = typeof body === 'object' ? body : body === undefined ? undefined : parseStatus(body);
  const message = status?.message ?? (typeof body === 'string' && body.trim() !== '' ? snippet(body) : `HTTP ${code}`);
  const reason = status?.reason ?? '';
  const effective = status?.code ?? code;
  const options = { cause: cause ?? (status ? { status } : undefined), ...(identifier === undefined ? {} : { identifier }) };
  if (effective === 404 || reason === 'NotFound') {
    return identifier !== undefined ? new ResourceNotFoundError(identifier, { cause: options.cause }) : new DatastoreError(`not found: ${message}`, options);
  }
  if (reason === 'AlreadyExists') {
    return identifier !== undefined ? new ResourceExistsError(identifier, { cause: options.cause }) : new DatastoreError(message, options);
  }
  if (effective === 409 || reason === 'Conflict') {
    return identifier !== undefined ? new UpdateConflictError(identifier, { cause: options.cause }) : new DatastoreError(message, options);
  }
  if (effective === 410 || reason === 'Expired' || reason === 'Gone') {
    return new WatchTooOldError('(expired)', { ...options, message: `Kubernetes: ${message}; relist and watch again` });
  }
  if (effective === 422 || reason === 'Invalid' || effective === 400 || reason === 'BadRequest') {
    const fields: FieldError[] = (status?.details?.causes ?? []).map((c) => ({
      name: c.field ?? '',
      value: undefined,
      reason: c.message ?? c.reason ?? 'invalid',
    }));
    if (fields.length === 0) fields.push({ name: '', value: undefined, reason: message });
    return new ValidationError(fields, { ...options, message: `rejected by the Kubernetes API server: ${message}` });
  }
  if ([429, 500, 502, 503, 504].includes(effective)) {
    return new DatastoreUnavailableError(`Kubernetes API server unavailable (${effective} ${reason || 'error'}): ${message}`, options);
  }
  if (effective === 401 || effective === 403) {
    return new DatastoreError(`Kubernetes API server refused the credentials (${effective} ${reason}): ${message}`, options);
  }
  return new DatastoreError(`Kubernetes API error ${effective}${reason ? ` ${reason}` : ''}: ${message}`, options);
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

const TLS_CODES = /^(CERT_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET|VERIFY)|ERR_SSL_)/;

/**
 * Translates anything thrown while talking to the API server: CalicoErrors pass through;
 * `ApiException`-like objects (`code` + string `body`) are mapped like responses; socket, DNS,
 * timeout and TLS errors become `DatastoreUnavailableError`; the rest becomes `DatastoreError`.
 */
export function translateError(error: unknown, identifier?: ErrorIdentifier, server?: string): CalicoError {
  if (CalicoError.isInstance(error)) return error as CalicoError;
  const e = error as { code?: unknown; body?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  // @kubernetes/client-node ApiException: numeric HTTP code, body as a string.
  if (typeof error === 'object' && error !== null && typeof e.code === 'number' && 'body' in e) {
    const body = typeof e.body === 'string' ? e.body : e.body === undefined ? undefined : safeStringify(e.body);
    return errorFromResponse(e.code, body, identifier, error);
  }
  const code = typeof e?.code === 'string' ? e.code : typeof (e?.cause as { code?: unknown })?.code === 'string' ? ((e.cause as { code: string }).code) : undefined;
  const where = server ? ` at ${server}` : '';
  const text = typeof e?.message === 'string' ? e.message : String(error);
  if (code !== undefined && TLS_CODES.test(code)) {
    return new DatastoreUnavailableError(`TLS failure talking to the Kubernetes API server${where}: ${text}`, { cause: error, isRetryable: false });
  }
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return new DatastoreUnavailableError(`cannot reach the Kubernetes API server${where}: ${text}`, { cause: error });
  }
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError' || /socket hang up|timed? ?out/i.test(text)) {
    return new DatastoreUnavailableError(`Kubernetes API request failed${where}: ${text}`, { cause: error });
  }
  return new DatastoreError(`Kubernetes API request failed${where}: ${text}`, { cause: error });
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
