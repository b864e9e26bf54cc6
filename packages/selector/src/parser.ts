/**
 * Recursive-descent parser over the token list, following upstream's grammar:
 *
 *     selector = [ or ] ; or = and { "||" and } ; and = unary { "&&" unary }
 *     unary = { "!" } primary
 *     primary = all() | global() | has(k) | "(" or ")" | k op string | k (in|not in) "{" [set] "}"
 */

import type { SelectorNode } from './ast.js';
import { toStringSet } from './ast.js';
import { SelectorParseError } from './errors.js';
import { type Token, TokenKind, tokenize } from './tokenizer.js';

/** Deepest parenthesis nesting accepted (guards the call stack). */
export const MAX_NESTING = 500;

const ALL: SelectorNode = Object.freeze({ kind: 'all' });
const GLOBAL: SelectorNode = Object.freeze({ kind: 'global' });

const TOKEN_TEXT: Record<number, string> = {
  [TokenKind.LBrace]: '"{"',
  [TokenKind.RBrace]: '"}"',
  [TokenKind.Comma]: '","',
  [TokenKind.Eq]: '"=="',
  [TokenKind.Ne]: '"!="',
  [TokenKind.In]: '"in"',
  [TokenKind.Not]: '"!"',
  [TokenKind.NotIn]: '"not in"',
  [TokenKind.Contains]: '"contains"',
  [TokenKind.StartsWith]: '"starts with"',
  [TokenKind.EndsWith]: '"ends with"',
  [TokenKind.All]: '"all()"',
  [TokenKind.Has]: '"has()"',
  [TokenKind.LParen]: '"("',
  [TokenKind.RParen]: '")"',
  [TokenKind.And]: '"&&"',
  [TokenKind.Or]: '"||"',
  [TokenKind.Global]: '"global()"',
  [TokenKind.EOF]: 'end of input',
};

function describe(token: Token): string {
  if (token.kind === TokenKind.Label) return `label ${JSON.stringify(token.value)}`;
  if (token.kind === TokenKind.String) return `string ${JSON.stringify(token.value)}`;
  return TOKEN_TEXT[token.kind] ?? 'token';
}

const VALUE_OPERATORS: Partial<Record<TokenKind, 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'>> = {
  [TokenKind.Eq]: 'eq',
  [TokenKind.Ne]: 'ne',
  [TokenKind.Contains]: 'contains',
  [TokenKind.StartsWith]: 'startsWith',
  [TokenKind.EndsWith]: 'endsWith',
};

/**
 * Parses selector text to a frozen tree. Empty or whitespace-only text is `all()`.
 * @throws {SelectorParseError} with the zero-based position of the problem.
 */
export function parseToAst(input: string): SelectorNode {
  const tokens = tokenize(input);
  let at = 0;
  let depth = 0;
  const fail = (token: Token, reason: string): never => {
    throw new SelectorParseError(input, token.position, reason);
  };

  const parseOr = (): SelectorNode => {
    const first = parseAnd();
    if (tokens[at]!.kind !== TokenKind.Or) return first;
    const operands = [first];
    while (tokens[at]!.kind === TokenKind.Or) {
      at++;
      operands.push(parseAnd());
    }
    return Object.freeze({ kind: 'or', operands: Object.freeze(operands) });
  };

  const parseAnd = (): SelectorNode => {
    const first = parseUnary();
    if (tokens[at]!.kind !== TokenKind.And) return first;
    const operands = [first];
    while (tokens[at]!.kind === TokenKind.And) {
      at++;
      operands.push(parseUnary());
    }
    return Object.freeze({ kind: 'and', operands: Object.freeze(operands) });
  };

  const parseUnary = (): SelectorNode => {
    let negated = false;
    while (tokens[at]!.kind === TokenKind.Not) {
      negated = !negated;
      at++;
    }
    const node = parsePrimary();
    return negated ? Object.freeze({ kind: 'not', operand: node }) : node;
  };

  const parsePrimary = (): SelectorNode => {
    const token = tokens[at]!;
    switch (token.kind) {
      case TokenKind.All:
        at++;
        return ALL;
      case TokenKind.Global:
        at++;
        return GLOBAL;
      case TokenKind.Has:
        at++;
        return Object.freeze({ kind: 'has', label: token.value });
      case TokenKind.LParen: {
        if (++depth > MAX_NESTING) fail(token, `parentheses nested deeper than ${MAX_NESTING}`);
        at++;
        const inner = parseOr();
        const close = tokens[at]!;
        if (close.kind !== TokenKind.RParen) fail(close, `expected ")" to close the "(" at offset ${token.position}, found ${describe(close)}`);
        at++;
        depth--;
        return inner;
      }
      case TokenKind.Label:
        return parseComparison(token);
      case TokenKind.EOF:
        return fail(token, 'unexpected end of input, expected an expression');
      default:
        return fail(token, `unexpected ${describe(token)}, expected an expression`);
    }
  };

  const parseComparison = (labelToken: Token): SelectorNode => {
    const label = labelToken.value;
    const operator = tokens[at + 1]!;
    const valueKind = VALUE_OPERATORS[operator.kind];
    if (valueKind !== undefined) {
      const value = tokens[at + 2]!;
      if (value.kind !== TokenKind.String) fail(value, `expected a string literal after ${describe(operator)}, found ${describe(value)}`);
      at += 3;
      return Object.freeze({ kind: valueKind, label, value: value.value });
    }
    if (operator.kind === TokenKind.In || operator.kind === TokenKind.NotIn) {
      const brace = tokens[at + 2]!;
      if (brace.kind !== TokenKind.LBrace) fail(brace, `expected a set literal "{...}" after ${describe(operator)}, found ${describe(brace)}`);
      at += 3;
      const values: string[] = [];
      while (tokens[at]!.kind === TokenKind.String) {
        values.push(tokens[at]!.value);
        at++;
        if (tokens[at]!.kind !== TokenKind.Comma) break;
        at++;
      }
      const close = tokens[at]!;
      if (close.kind !== TokenKind.RBrace) {
        fail(close, `expected ${values.length === 0 || tokens[at - 1]!.kind === TokenKind.Comma ? 'a string or "}"' : '"," or "}"'} in set literal, found ${describe(close)}`);
      }
      at++;
      return Object.freeze({ kind: operator.kind === TokenKind.In ? 'in' : 'notIn', label, values: toStringSet(values) });
    }
    if (operator.kind === TokenKind.EOF) return fail(operator, `unexpected end of input, expected an operator after label ${JSON.stringify(label)}`);
    return fail(operator, `expected an operator after label ${JSON.stringify(label)}, found ${describe(operator)}`);
  };

  if (tokens[0]!.kind === TokenKind.EOF) return ALL;
  const root = parseOr();
  const rest = tokens[at]!;
  if (rest.kind !== TokenKind.EOF) fail(rest, `unexpected ${describe(rest)} after the end of the expression`);
  return root;
}
