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
  const fail = (position: number, reason: string): never => {
    throw new SelectorParseError(input, position, reason);
  };
  const push = (kind: TokenKind, value: string, position: number): void => {
    tokens.push({ kind, value, position });
    lastKind = kind;
  };
  const readIdentifier = (start: number): number => {
    const end = identifierEnd(s, start);
    if (end === start) {
      fail(start, start < s.length ? `unexpected character ${describeChar(s, start)}, expected a label` : 'unexpected end of input, expected a label');
    }
    if (end - start > MAX_LABEL_LENGTH) fail(start, `label too long (${end - start} characters, the maximum is ${MAX_LABEL_LENGTH})`);
    return end;
  };

  while (true) {
    i = skipWhitespace(s, i);
    if (i >= s.length) {
      push(TokenKind.EOF, '', i);
      return tokens;
    }
    const start = i;
    const c = s.charCodeAt(i);
    switch (c) {
      case 40: // (
        push(TokenKind.LParen, '', start);
        i++;
        continue;
      case 41: // )
        push(TokenKind.RParen, '', start);
        i++;
        continue;
      case 123: // {
        push(TokenKind.LBrace, '', start);
        i++;
        continue;
      case 125: // }
        push(TokenKind.RBrace, '', start);
        i++;
        continue;
      case 44: // ,
        push(TokenKind.Comma, '', start);
        i++;
        continue;
      case 34: // "
      case 39: {
        // '
        const close = s.indexOf(c === 34 ? '"' : "'", i + 1);
        if (close < 0) fail(start, 'unterminated string');
        push(TokenKind.String, s.slice(i + 1, close), start);
        i = close + 1;
        continue;
      }
      case 61: // =
        if (s.charCodeAt(i + 1) !== 61) fail(start, 'expected "==" (a single "=" is not an operator)');
        push(TokenKind.Eq, '', start);
        i += 2;
        continue;
      case 33: // !
        if (s.charCodeAt(i + 1) === 61) {
          push(TokenKind.Ne, '', start);
          i += 2;
        } else {
          push(TokenKind.Not, '', start);
          i++;
        }
        continue;
      case 38: // &
        if (s.charCodeAt(i + 1) !== 38) fail(start, 'expected "&&"');
        push(TokenKind.And, '', start);
        i += 2;
        continue;
      case 124: // |
        if (s.charCodeAt(i + 1) !== 124) fail(start, 'expected "||"');
        push(TokenKind.Or, '', start);
        i += 2;
        continue;
    }
    if (lastKind === TokenKind.Label) {
      // Right after a label only an operator may follow.
      let j: number;
      if ((j = matchKeyword(s, i, 'contains')) >= 0) push(TokenKind.Contains, '', start);
      else if ((j = matchKeyword(s, i, 'starts', 'with')) >= 0) push(TokenKind.StartsWith, '', start);
      else if ((j = matchKeyword(s, i, 'ends', 'with')) >= 0) push(TokenKind.EndsWith, '', start);
      else if ((j = matchKeyword(s, i, 'not', 'in')) >= 0) push(TokenKind.NotIn, '', start);
      else if ((j = matchKeyword(s, i, 'in')) >= 0) push(TokenKind.In, '', start);
      else {
        const label = tokens[tokens.length - 1]!.value;
        return fail(start, `expected an operator after label ${JSON.stringify(label)}`);
      }
      i = j;
      continue;
    }
    if (s.startsWith('has(', i)) {
      const labelStart = skipWhitespace(s, i + 4);
      const labelEnd = readIdentifier(labelStart);
      const close = skipWhitespace(s, labelEnd);
      if (s.charCodeAt(close) !== 41) fail(close, 'expected ")" to close "has("');
      push(TokenKind.Has, s.slice(labelStart, labelEnd), start);
      i = close + 1;
      continue;
    }
    if (s.startsWith('all(', i) || s.startsWith('global(', i)) {
      const isAll = s.charCodeAt(i) === 97;
      const close = skipWhitespace(s, i + (isAll ? 4 : 7));
      if (s.charCodeAt(close) !== 41) fail(close, `expected ")" to close "${isAll ? 'all' : 'global'}("`);
      push(isAll ? TokenKind.All : TokenKind.Global, '', start);
      i = close + 1;
      continue;
    }
    const end = readIdentifier(i);
    push(TokenKind.Label, s.slice(i, end), start);
    i = end;
  }
}
