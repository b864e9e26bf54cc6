/**
 * Wire format between {@link NetnsSession} and its worker: one JSON object per line.
 * Errors cross the pipe as plain objects and are rebuilt as the same classes on the other side.
 * @internal
 */
import {
  CalicoError,
  OperationNotSupportedError,
  ResourceExistsError,
  ResourceNotFoundError,
  ValidationError,
  type FieldError,
} from '@libcalico-ts/api';
import { CommandError, KernelNotSupportedError, NetlinkError, NetnsWorkerError } from './errors.js';

export interface RpcRequest {
  id: number;
  method: string;
  args: unknown[];
}

export type RpcResponse = { id: number; result: unknown } | { id: number; error: SerializedError } | { ready: true; pid: number };

export interface SerializedError {
  name: string;
  message: string;
  fields?: FieldError[];
  errno?: number;
  code?: string;
  operation?: string;
  feature?: string;
  identifier?: unknown;
  command?: string[];
  exitCode?: number | null;
  stderr?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const e = error as Error & Record<string, unknown>;
  const out: SerializedError = { name: e.name, message: e.message };
  for (const key of ['fields', 'errno', 'code', 'operation', 'feature', 'identifier', 'command', 'exitCode', 'stderr'] as const) {
    if (e[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = e[key];
  }
  return out;
}

/** Rebuilds an error thrown in the worker as the matching class of this package or of `@libcalico-ts/api`. */
export function deserializeError(s: SerializedError, where: string): Error {
  const message = `${s.message} (in ${where})`;
  const identifier = typeof s.identifier === 'string' || (typeof s.identifier === 'object' && s.identifier !== null) ? (s.identifier as never) : `${where}`;
  switch (s.name) {
    case 'ValidationError':
      return new ValidationError(s.fields ?? [], { message });
    case 'ResourceNotFoundError':
      return new ResourceNotFoundError(identifier, { message });
    case 'ResourceExistsError':
      return new ResourceExistsError(identifier, { message });
    case 'NetlinkError':
      return new NetlinkError(`${s.operation ?? '?'} (in ${where})`, s.errno ?? 0, s.code ?? 'E?');
    case 'KernelNotSupportedError':
      return new KernelNotSupportedError(s.feature ?? '?', { message });
    case 'OperationNotSupportedError':
      return new OperationNotSupportedError(message);
    case 'CommandError':
      return new CommandError(s.command ?? [], s.exitCode ?? null, s.stderr ?? '', { message });
    case 'NetnsWorkerError':
      return new NetnsWorkerError(message);
    default: {
      const error = new CalicoError(message);
      return error;
    }
  }
}
