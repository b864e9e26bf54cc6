/**
 * The error thrown for invalid selector text.
 *
 * This package sits below `@libcalico-ts/api`, so {@link SelectorParseError} extends `Error` and
 * follows the CalicoError `Symbol.for` marker protocol: `CalicoError.isInstance(e)` and
 * `ParseError.isInstance(e)` from `@libcalico-ts/api` return true for it.
 */

const BASE_MARKER = Symbol.for('@libcalico-ts/error');

function markerFor(name: string): symbol {
  return Symbol.for(`@libcalico-ts/error/${name}`);
}

/**
 * A selector could not be parsed (or an AST given to `selectorFromAst` is not representable).
 *
 * `position` is the zero-based offset (in UTF-16 code units, i.e. a JavaScript string index)
 * of the problem in `input`; `reason` is the message without the input and position.
 *
 * @example
 * ```ts
 * try {
 *   parseSelector('a == b');
 * } catch (error) {
 *   if (SelectorParseError.isInstance(error)) console.log(error.position); // 5
 * }
 * ```
 */
export class SelectorParseError extends Error {
  /** The selector text that failed to parse. */
  readonly input: string;
  /** Same as {@link input}. */
  readonly identifier: string;
  /** Zero-based offset of the problem in {@link input}. */
  readonly position: number;
  /** What is wrong, e.g. `expected string literal after "=="`. */
  readonly reason: string;
  /** Parsing the same text again fails again. */
  readonly isRetryable: boolean = false;

  constructor(input: string, position: number, reason: string) {
    super(`invalid selector ${JSON.stringify(input)}: ${reason} (at offset ${position})`);
    this.name = 'SelectorParseError';
    this.input = input;
    this.identifier = input;
    this.position = position;
    this.reason = reason;
    Object.defineProperty(this, BASE_MARKER, { value: true, enumerable: false });
    for (const name of ['CalicoError', 'ParseError', 'SelectorParseError']) {
      Object.defineProperty(this, markerFor(name), { value: true, enumerable: false });
    }
  }

  /** True when `error` is a SelectorParseError from any copy of this package. */
  static isInstance(error: unknown): error is SelectorParseError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[markerFor('SelectorParseError')] === true;
  }
}
