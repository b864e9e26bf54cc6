/**
 * Error classes specific to the dataplane. They all extend `CalicoError` from `@libcalico-ts/api`,
 * so `CalicoError.isInstance(error)` is true for every error this package throws on purpose.
 */
import { CalicoError, OperationNotSupportedError, type CalicoErrorOptions } from '@libcalico-ts/api';

/**
 * The kernel rejected a netlink request. `errno` is the positive errno value (e.g. 17),
 * `code` its symbolic name (e.g. `EEXIST`) and `operation` a short description of the request.
 */
export class NetlinkError extends CalicoError {
  static override readonly errorName: string = 'NetlinkError';
  /** Positive errno value reported by the kernel. */
  readonly errno: number;
  /** Symbolic errno name, e.g. `EEXIST`, `ENODEV`, `EINVAL`. */
  readonly code: string;
  /** What was being attempted, e.g. `add route 10.0.0.0/24`. */
  readonly operation: string;
  constructor(operation: string, errno: number, code: string, options: CalicoErrorOptions = {}) {
    super(`netlink: ${operation}: ${code} (errno ${errno})`, options);
    this.errno = errno;
    this.code = code;
    this.operation = operation;
  }
}

/**
 * The running kernel lacks a feature (e.g. `ip link add type ipip` fails because the ipip module is
 * not available). Subclass of `OperationNotSupportedError`.
 */
export class KernelNotSupportedError extends OperationNotSupportedError {
  static override readonly errorName: string = 'KernelNotSupportedError';
  /** The missing feature, e.g. `ipip`. */
  readonly feature: string;
  constructor(feature: string, options: CalicoErrorOptions & { message?: string } = {}) {
    super(options.message ?? `${feature} is not supported by this kernel`, options);
    this.feature = feature;
  }
}

/** An external command (iptables-restore, ip netns, nsenter...) failed. */
export class CommandError extends CalicoError {
  static override readonly errorName: string = 'CommandError';
  /** The command line that failed. */
  readonly command: string[];
  /** Exit status, or null when killed by a signal / not started. */
  readonly exitCode: number | null;
  /** Captured standard error. */
  readonly stderr: string;
  constructor(command: string[], exitCode: number | null, stderr: string, options: CalicoErrorOptions & { message?: string } = {}) {
    super(
      options.message ?? `command failed (exit ${exitCode ?? 'signal'}): ${command.join(' ')}${stderr ? `: ${stderr.trim()}` : ''}`,
      options,
    );
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** A netns worker process failed or died, or an RPC to it timed out. */
export class NetnsWorkerError extends CalicoError {
  static override readonly errorName: string = 'NetnsWorkerError';
}
