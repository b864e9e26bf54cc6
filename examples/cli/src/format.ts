/**
 * Text formatting shared by the CLI and the demo: Go's `%.5g` / `%.f` number formats, the
 * ASCII box tables of `calicoctl ipam` (go-pretty style) and the tab-aligned tables of
 * `calicoctl get` (Go `text/tabwriter` with minwidth 5, padding 3).
 */

/**
 * Rounds a string of decimal digits (an integer's digits) to `keep` significant digits, ties to
 * even, as Go's strconv does on an exact decimal value. Returns the kept digits and whether the
 * rounding carried into a new leading digit.
 */
function roundDigitsHalfEven(digits: string, keep: number): { digits: string; carry: boolean } {
  if (digits.length <= keep) return { digits, carry: false };
  const head = digits.slice(0, keep);
  const next = digits.charCodeAt(keep) - 48;
  const rest = digits.slice(keep + 1);
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else if (/[1-9]/.test(rest)) up = true;
  else up = (head.charCodeAt(keep - 1) - 48) % 2 === 1; // exact tie: round to even
  if (!up) return { digits: head, carry: false };
  const incremented = (BigInt(head) + 1n).toString();
  if (incremented.length > keep) return { digits: incremented.slice(0, keep), carry: true };
  return { digits: incremented, carry: false };
}

/**
 * Go's `fmt.Sprintf("%.5g", float64(n))` for a non-negative integer count: the count is first
 * converted to a float64 (as calicoctl does, so counts above 2^53 lose precision exactly as
 * there), then printed with at most 5 significant digits, trailing zeros removed, in plain
 * notation when the decimal exponent is below 5 and as `d.dddde+XX` otherwise
 * (`65536`, `1e+05`, `1.0486e+06`, `9.2234e+18`).
 *
 * @throws RangeError for a negative or non-integral value.
 */
export function formatGoG5(n: bigint | number): string {
  const value = typeof n === 'bigint' ? Number(n) : n;
  if (!Number.isFinite(value) || value < 0 || !Number.isInteger(value)) {
    throw new RangeError(`formatGoG5 expects a non-negative integer, got ${String(n)}`);
  }
  if (value === 0) return '0';
  // The exact decimal expansion of the float64 value.
  const exact = BigInt(value).toString();
  let exponent = exact.length - 1;
  const rounded = roundDigitsHalfEven(exact, 5);
  if (rounded.carry) exponent += 1;
  const mantissa = rounded.digits.replace(/0+$/, '') || '0';
  if (exponent < 5) {
    // Plain notation: the number has at most 5 digits, so it is an integer.
    return mantissa.padEnd(exponent + 1, '0');
  }
  const fraction = mantissa.slice(1);
  const exp = exponent < 10 ? `0${exponent}` : String(exponent);
  return `${mantissa[0]}${fraction ? `.${fraction}` : ''}e+${exp}`;
}

/**
 * Go's `%.f` of a float64: nearest integer, exact ties to even (`37.5` -> `38`, `62.5` -> `62`,
 * `12.5` -> `12`). NaN prints `NaN`, infinities `+Inf`/`-Inf`.
 */
export function formatGoF0(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  const floor = Math.floor(x);
  const fraction = x - floor;
  let r: number;
  if (fraction > 0.5) r = floor + 1;
  else if (fraction < 0.5) r = floor;
  else r = floor % 2 === 0 ? floor : floor + 1;
  if (r === 0) return x < 0 || Object.is(x, -0) ? '-0' : '0';
  return String(r);
}

/** `%.5g (%.f%%)` of `n` and `100·n/capacity`, as the ipam tables print counts. */
export function formatCountWithPercent(n: bigint, capacity: bigint): string {
  const percent = (100 * Number(n)) / Number(capacity);
  return `${formatGoG5(n)} (${formatGoF0(percent)}%)`;
}

/** Column alignment of {@link formatBoxTable}. */
export type Alignment = 'left' | 'right';

/**
 * An ASCII box table as `calicoctl ipam` prints them: `+---+` rules above the header, below it
 * and at the bottom, `| cell | cell |` rows, column width = longest of header and cells, header
 * left-aligned, data aligned per column. Ends with a newline.
 *
 * @example
 * ```ts
 * formatBoxTable(['PROPERTY', 'VALUE'], [['StrictAffinity', 'false']]);
 * ```
 */
export function formatBoxTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Alignment[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: readonly string[], data: boolean) =>
    `| ${widths
      .map((w, i) => {
        const cell = cells[i] ?? '';
        return data && align[i] === 'right' ? cell.padStart(w) : cell.padEnd(w);
      })
      .join(' | ')} |`;
  const out = [rule, line(header, false), rule];
  for (const r of rows) out.push(line(r, true));
  out.push(rule);
  return out.join('\n') + '\n';
}

/**
 * A table as Go's `text/tabwriter` (minwidth 5, tabwidth 1, padding 3, space padding) prints
 * tab-terminated cells, which is how `calicoctl get` prints: each column is as wide as its
 * widest cell plus 3 (at least 5). The padding Go leaves at the end of every line is trimmed
 * (the observed outputs show none). Ends with a newline after the last row.
 */
export function formatTabTable(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(0, ...rows.map((r) => r.length));
  const widths: number[] = [];
  for (let c = 0; c < columns; c++) widths.push(Math.max(5, ...rows.map((r) => (r[c] ?? '').length + 3)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('').replace(/\s+$/, '')).join('\n') + '\n';
}
