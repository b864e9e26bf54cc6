/**
 * The selector tokenizer. Same lexical rules as Calico's `selector/tokenizer` (see the package
 * README): space and tab are the only whitespace, keyword operators are recognised only right
 * after a label, `has(`, `all(` and `global(` only where a label could start.
 */

import { SelectorParseError } from './errors.js';

/** Token kinds. */
export const TokenKind = {
  Label: 1,
  String: 2,
  LBrace: 3,
  RBrace: 4,
  Comma: 5,
  Eq: 6,
  Ne: 7,
  In: 8,
  Not: 9,
  NotIn: 10,
  Contains: 11,
  StartsWith: 12,
  EndsWith: 13,
  All: 14,
  Has: 15,
  LParen: 16,
  RParen: 17,
  And: 18,
  Or: 19,
  Global: 20,
  EOF: 21,
} as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

/** One token: its kind, its value (label name or string content) and where it starts. */
export interface Token {
  kind: TokenKind;
  value: string;
  position: number;
}

/** Longest label key accepted, as upstream. */
export const MAX_LABEL_LENGTH = 512;

/** True for `[A-Za-z0-9_./-]`. */
export function isIdentifierChar(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || // a-z
    (c >= 65 && c <= 90) || // A-Z
    (c >= 48 && c <= 57) || // 0-9
    c === 95 || // _
    c === 46 || // .
    c === 47 || // /
    c === 45 // -
  );
}

function skipWhitespace(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9) break;
    i++;
  }
  return i;
}

function identifierEnd(s: string, i: number): number {
  while (i < s.length && isIdentifierChar(s.charCodeAt(i))) i++;
  return i;
}

function isWordBoundary(s: string, i: number): boolean {
  return i >= s.length || !isIdentifierChar(s.charCodeAt(i));
}

/** If `word` is at `i`, returns the offset after it, else -1. */
function matchWord(s: string, i: number, word: string): number {
  return s.startsWith(word, i) ? i + word.length : -1;
}

/**
 * Matches a keyword operator (one or two words) at `i`, allowing any run of spaces/tabs
 * (including none) between two words, and requiring a word boundary after the last one. Returns
 * the offset after the operator, or -1.
 */
function matchKeyword(s: string, i: number, first: string, second?: string): number {
  let j = matchWord(s, i, first);
  if (j < 0) return -1;
  if (second !== undefined) {
    j = matchWord(s, skipWhitespace(s, j), second);
    if (j < 0) return -1;
    // As upstream, the two-word forms skip the whitespace after the second word before checking
    // the boundary, so `a starts with b` fails here while `a contains b` fails in the parser.
    j = skipWhitespace(s, j);
  }
  return isWordBoundary(s, j) ? j : -1;
}

function describeChar(s: string, i: number): string {
  const c = s.codePointAt(i)!;
  if (c === 10) return 'newline';
  if (c === 13) return 'carriage return';
  return JSON.stringify(String.fromCodePoint(c));
}

/**
 * Splits selector text into tokens; the last token is always `EOF`.
 * @throws {SelectorParseError} for lexical errors (unterminated string, lone `=`/`&`/`|`,
 *   unknown operator after a label, malformed `has(`/`all(`/`global(`, bad characters,
 *   labels longer than 512 characters).
 */
export function tokenize(input: string): Token[] {
  const s = input;
  const tokens: Token[] = [];
  let lastKind = 0;
  let i = 0;
  while (true) {
    i = skipWhitespace(s, i);
    if (i >= s.length) {
      tokens.push({ kind: TokenKind.EOF, value: '', position: i });
      return tokens;
    }
    const start = i;
    const c = s.charCodeAt(i);
    let kind: TokenKind;
    let value = '';
    switch (c) {
      case 40: // (
        kind = TokenKind.LParen;
        i++;
        break;
      case 41: // )
        kind = TokenKind.RParen;
        i++;
        break;
      case 123: // {
        kind = TokenKind.LBrace;
        i++;
        break;
      case 125: // }
        kind = TokenKind.RBrace;
        i++;
        break;
      case 44: // ,
        kind = TokenKind.Comma;
        i++;
        break;
      case 34: // "
      case 39: {
        // '
        const close = s.indexOf(c === 34 ? '"' : "'", i + 1);
        if (close < 0) throw new SelectorParseError(input, start, 'unterminated string');
        kind = TokenKind.String;
        value = s.slice(i + 1, close);
        i = close + 1;
        break;
      }
      case 61: // =
        if (s.charCodeAt(i + 1) !== 61) throw new SelectorParseError(input, start, 'expected "==" (a single "=" is not an operator)');
        kind = TokenKind.Eq;
        i += 2;
        break;
      case 33: // !
        if (s.charCodeAt(i + 1) === 61) {
          kind = TokenKind.Ne;
          i += 2;
        } else {
          kind = TokenKind.Not;
          i++;
        }
        break;
      case 38: // &
        if (s.charCodeAt(i + 1) !== 38) throw new SelectorParseError(input, start, 'expected "&&"');
        kind = TokenKind.And;
        i += 2;
        break;
      case 124: // |
        if (s.charCodeAt(i + 1) !== 124) throw new SelectorParseError(input, start, 'expected "||"');
        kind = TokenKind.Or;
        i += 2;
        break;
      default:
        if (lastKind === TokenKind.Label) {
          // Right after a label only an operator may follow.
          let j: number;
          if ((j = matchKeyword(s, i, 'contains')) >= 0) kind = TokenKind.Contains;
          else if ((j = matchKeyword(s, i, 'starts', 'with')) >= 0) kind = TokenKind.StartsWith;
          else if ((j = matchKeyword(s, i, 'ends', 'with')) >= 0) kind = TokenKind.EndsWith;
          else if ((j = matchKeyword(s, i, 'not', 'in')) >= 0) kind = TokenKind.NotIn;
          else if ((j = matchKeyword(s, i, 'in')) >= 0) kind = TokenKind.In;
          else {
            const label = tokens[tokens.length - 1]!.value;
            throw new SelectorParseError(input, start, `expected an operator after label ${JSON.stringify(label)}`);
          }
          i = j;
        } else if (s.startsWith('has(', i)) {
          const labelStart = skipWhitespace(s, i + 4);
          const labelEnd = readIdentifier(input, labelStart);
          const close = skipWhitespace(s, labelEnd);
          if (s.charCodeAt(close) !== 41) throw new SelectorParseError(input, close, 'expected ")" to close "has("');
          kind = TokenKind.Has;
          value = s.slice(labelStart, labelEnd);
          i = close + 1;
        } else if (s.startsWith('all(', i) || s.startsWith('global(', i)) {
          const isAll = c === 97;
          const close = skipWhitespace(s, i + (isAll ? 4 : 7));
          if (s.charCodeAt(close) !== 41) {
            throw new SelectorParseError(input, close, `expected ")" to close "${isAll ? 'all' : 'global'}("`);
          }
          kind = isAll ? TokenKind.All : TokenKind.Global;
          i = close + 1;
        } else {
          const end = readIdentifier(input, i);
          kind = TokenKind.Label;
          value = s.slice(i, end);
          i = end;
        }
    }
    tokens.push({ kind, value, position: start });
    lastKind = kind;
  }
}

/** Returns the end of the label starting at `start`, or throws when there is none or it is too long. */
function readIdentifier(s: string, start: number): number {
  const end = identifierEnd(s, start);
  if (end === start) {
    throw new SelectorParseError(
      s,
      start,
      start < s.length ? `unexpected character ${describeChar(s, start)}, expected a label` : 'unexpected end of input, expected a label',
    );
  }
  if (end - start > MAX_LABEL_LENGTH) {
    throw new SelectorParseError(s, start, `label too long (${end - start} characters, the maximum is ${MAX_LABEL_LENGTH})`);
  }
  return end;
}
