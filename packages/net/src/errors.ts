/**
 * Errors thrown by `@libcalico-ts/net`.
 *
 * This package sits below `@libcalico-ts/api` in the dependency graph, so it cannot extend
 * `CalicoError`. Instead its errors follow the same `Symbol.for` marker protocol, which makes
 * `CalicoError.isInstance(error)` and `ParseError.isInstance(error)` from `@libcalico-ts/api`
 * return true for {@link InvalidAddressError}, {@link InvalidCIDRError} and
 * {@link InvalidMACError} (and `CalicoError.isInstance` for {@link OutOfRangeError}).
 *
 * @example
 * ```ts
 * try {
 *   parseCIDR('10.0.0.0/33');
 * } catch (error) {
 *   if (InvalidCIDRError.isInstance(error)) console.log(error.input, error.reason);
 * }
 * ```
 */

const BASE_MARKER = Symbol.for('@libcalico-ts/error');

function markerFor(name: string): symbol {
  return Symbol.for(`@libcalico-ts/error/${name}`);
}

function hasMarker(error: unknown, name: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  return (error as Record<symbol, unknown>)[markerFor(name)] === true;
}

/** Defines the non-enumerable marker properties of the CalicoError protocol on `target`. */
function mark(target: object, names: readonly string[]): void {
  Object.defineProperty(target, BASE_MARKER, { value: true, enumerable: false });
  for (const name of names) {
    Object.defineProperty(target, markerFor(name), { value: true, enumerable: false });
  }
}

/** Common shape of the errors of this package. */
abstract class NetErrorBase extends Error {
  /** The text (or value, stringified) the error is about. */
  readonly identifier: string;
  /** Same as {@link identifier}: the offending input. */
  readonly input: string;
  /** Why the input was rejected, without the input itself (e.g. `prefix length 33 is out of range (0-32)`). */
  readonly reason: string;
  /** These errors never go away by retrying. */
  readonly isRetryable: boolean = false;

  protected constructor(name: string, markers: readonly string[], message: string, input: string, reason: string) {
    super(message);
    this.name = name;
    this.identifier = input;
    this.input = input;
    this.reason = reason;
    mark(this, markers);
  }
}

function quote(input: string): string {
  return JSON.stringify(input);
}

/**
 * Text is not a valid IPv4 or IPv6 address. Carries the `ParseError` marker.
 * `input` is the rejected text, `reason` says what is wrong with it.
 */
export class InvalidAddressError extends NetErrorBase {
  constructor(input: string, reason: string) {
    super(
      'InvalidAddressError',
      ['CalicoError', 'ParseError', 'InvalidAddressError'],
      `invalid IP address ${quote(input)}: ${reason}`,
      input,
      reason,
    );
  }

  /** True when `error` is an InvalidAddressError from any copy of this package. */
  static isInstance(error: unknown): error is InvalidAddressError {
    return hasMarker(error, 'InvalidAddressError');
  }
}

/**
 * Text is not a valid CIDR (or violates the options given to `parseCIDR`). Carries the
 * `ParseError` marker. `input` is the rejected text, `reason` says what is wrong with it.
 */
export class InvalidCIDRError extends NetErrorBase {
  constructor(input: string, reason: string) {
    super(
      'InvalidCIDRError',
      ['CalicoError', 'ParseError', 'InvalidCIDRError'],
      `invalid CIDR ${quote(input)}: ${reason}`,
      input,
      reason,
    );
  }

  /** True when `error` is an InvalidCIDRError from any copy of this package. */
  static isInstance(error: unknown): error is InvalidCIDRError {
    return hasMarker(error, 'InvalidCIDRError');
  }
}

/** Text is not a valid MAC address. Carries the `ParseError` marker. */
export class InvalidMACError extends NetErrorBase {
  constructor(input: string, reason: string) {
    super(
      'InvalidMACError',
      ['CalicoError', 'ParseError', 'InvalidMACError'],
      `invalid MAC address ${quote(input)}: ${reason}`,
      input,
      reason,
    );
  }

  /** True when `error` is an InvalidMACError from any copy of this package. */
  static isInstance(error: unknown): error is InvalidMACError {
    return hasMarker(error, 'InvalidMACError');
  }
}

/**
 * An argument is outside the range an operation allows: an address outside a block, an ordinal
 * past the end of a block, a block size smaller than the pool, an address that overflows its
 * family. Carries the `CalicoError` marker (not `ParseError`). `input` names the offending value.
 */
export class OutOfRangeError extends NetErrorBase {
  constructor(input: string, reason: string) {
    super('OutOfRangeError', ['CalicoError', 'OutOfRangeError'], `${input}: ${reason}`, input, reason);
  }

  /** True when `error` is an OutOfRangeError from any copy of this package. */
  static isInstance(error: unknown): error is OutOfRangeError {
    return hasMarker(error, 'OutOfRangeError');
  }
}
