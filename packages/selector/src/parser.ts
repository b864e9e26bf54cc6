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
 * Parser state over one token list. A class rather than closures, so a parse allocates no
 * functions. Nodes are built unfrozen for speed; `Selector.ast` deep-freezes the tree on first
 * access.
 */
class Parser {
  private at = 0;
  private depth = 0;

  constructor(
    private readonly input: string,
    private readonly tokens: Token[],
  ) {}

  private fail(token: Token, reason: string): never {
    throw new SelectorParseError(this.input, token.position, reason);
  }

  parseRoot(): SelectorNode {
    if (this.tokens[0]!.kind === TokenKind.EOF) return ALL;
    const root = this.parseOr();
    const rest = this.tokens[this.at]!;
    if (rest.kind !== TokenKind.EOF) this.fail(rest, `unexpected ${describe(rest)} after the end of the expression`);
    return root;
  }

  private parseOr(): SelectorNode {
    const first = this.parseAnd();
    if (this.tokens[this.at]!.kind !== TokenKind.Or) return first;
    const operands = [first];
    while (this.tokens[this.at]!.kind === TokenKind.Or) {
      this.at++;
      operands.push(this.parseAnd());
    }
    return { kind: 'or', operands };
  }

  private parseAnd(): SelectorNode {
    const first = this.parseUnary();
    if (this.tokens[this.at]!.kind !== TokenKind.And) return first;
    const operands = [first];
    while (this.tokens[this.at]!.kind === TokenKind.And) {
      this.at++;
      operands.push(this.parseUnary());
    }
    return { kind: 'and', operands };
  }

  private parseUnary(): SelectorNode {
    let negated = false;
    while (this.tokens[this.at]!.kind === TokenKind.Not) {
      negated = !negated;
      this.at++;
    }
    const node = this.parsePrimary();
    return negated ? { kind: 'not', operand: node } : node;
  }

  private parsePrimary(): SelectorNode {
    const token = this.tokens[this.at]!;
    switch (token.kind) {
      case TokenKind.All:
        this.at++;
        return ALL;
      case TokenKind.Global:
        this.at++;
        return GLOBAL;
      case TokenKind.Has:
        this.at++;
        return { kind: 'has', label: token.value };
      case TokenKind.LParen: {
        if (++this.depth > MAX_NESTING) this.fail(token, `parentheses nested deeper than ${MAX_NESTING}`);
        this.at++;
        const inner = this.parseOr();
        const close = this.tokens[this.at]!;
        if (close.kind !== TokenKind.RParen) {
          this.fail(close, `expected ")" to close the "(" at offset ${token.position}, found ${describe(close)}`);
        }
        this.at++;
        this.depth--;
        return inner;
      }
      case TokenKind.Label:
        return this.parseComparison(token);
      case TokenKind.EOF:
        return this.fail(token, 'unexpected end of input, expected an expression');
      default:
        return this.fail(token, `unexpected ${describe(token)}, expected an expression`);
    }
  }

  private parseComparison(labelToken: Token): SelectorNode {
    const tokens = this.tokens;
    const label = labelToken.value;
    const operator = tokens[this.at + 1]!;
    const valueKind = VALUE_OPERATORS[operator.kind];
    if (valueKind !== undefined) {
      const value = tokens[this.at + 2]!;
      if (value.kind !== TokenKind.String) {
        this.fail(value, `expected a string literal after ${describe(operator)}, found ${describe(value)}`);
      }
      this.at += 3;
      return { kind: valueKind, label, value: value.value };
    }
    if (operator.kind === TokenKind.In || operator.kind === TokenKind.NotIn) {
      const brace = tokens[this.at + 2]!;
      if (brace.kind !== TokenKind.LBrace) {
        this.fail(brace, `expected a set literal "{...}" after ${describe(operator)}, found ${describe(brace)}`);
      }
      this.at += 3;
      const values: string[] = [];
      while (tokens[this.at]!.kind === TokenKind.String) {
        values.push(tokens[this.at]!.value);
        this.at++;
        if (tokens[this.at]!.kind !== TokenKind.Comma) break;
        this.at++;
      }
      const close = tokens[this.at]!;
      if (close.kind !== TokenKind.RBrace) {
        const wanted = values.length === 0 || tokens[this.at - 1]!.kind === TokenKind.Comma ? 'a string or "}"' : '"," or "}"';
        this.fail(close, `expected ${wanted} in set literal, found ${describe(close)}`);
      }
      this.at++;
      return { kind: operator.kind === TokenKind.In ? 'in' : 'notIn', label, values: toStringSet(values) };
    }
    if (operator.kind === TokenKind.EOF) {
      return this.fail(operator, `unexpected end of input, expected an operator after label ${JSON.stringify(label)}`);
    }
    return this.fail(operator, `expected an operator after label ${JSON.stringify(label)}, found ${describe(operator)}`);
  }
}

/**
 * Parses selector text to a tree (not frozen; see `Selector.ast`). Empty or whitespace-only text is `all()`.
 * @throws {SelectorParseError} with the zero-based position of the problem.
 */
export function parseToAst(input: string): SelectorNode {
  return new Parser(input, tokenize(input)).parseRoot();
}
