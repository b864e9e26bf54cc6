/**
 * Syntax check of the Calico selector language (see reference/selectors.md §1-§2), used by the
 * validators. Returns undefined when `text` parses, otherwise the reason and the character
 * offset. It builds no tree: matching and printing live in `@libcalico-ts/selector`.
 */

export interface SelectorSyntaxError {
  reason: string;
  position: number;
}

const KEY_CHAR = /[A-Za-z0-9_./-]/;
const MAX_KEY = 512;

class Checker {
  private pos = 0;
  constructor(private readonly text: string) {}

  fail(reason: string, position = this.pos): never {
    throw Object.assign(new Error(reason), { selectorPosition: position });
  }

  skipSpace(): void {
    while (this.pos < this.text.length && (this.text[this.pos] === ' ' || this.text[this.pos] === '\t')) this.pos++;
  }

  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }

  peek(token: string): boolean {
    this.skipSpace();
    return this.text.startsWith(token, this.pos);
  }

  expect(token: string): void {
    if (!this.peek(token)) this.fail(`expected ${JSON.stringify(token)}`);
    this.pos += token.length;
  }

  key(): string {
    this.skipSpace();
    const start = this.pos;
    while (this.pos < this.text.length && KEY_CHAR.test(this.text[this.pos]!)) this.pos++;
    if (this.pos === start) {
      const ch = this.text[this.pos];
      this.fail(ch === undefined ? 'unexpected end of selector' : `unexpected character ${JSON.stringify(ch)}`, start);
    }
    if (this.pos - start > MAX_KEY) this.fail(`label too long (more than ${MAX_KEY} characters)`, start);
    return this.text.slice(start, this.pos);
  }

  string(): void {
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") this.fail('expected a quoted string');
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated string literal');
    this.pos = end + 1;
  }

  /** Reads a keyword operator right after a label; words may be joined by spaces/tabs or nothing. */
  keyword(): string | undefined {
    this.skipSpace();
    const rest = this.text.slice(this.pos);
    const match = /^(contains|starts[ \t]*with|ends[ \t]*with|not[ \t]*in|in)/.exec(rest);
    if (!match) return undefined;
    const after = rest[match[0].length];
    if (after !== undefined && KEY_CHAR.test(after)) return undefined;
    this.pos += match[0].length;
    return match[0].replace(/[ \t]+/g, '');
  }

  orExpr(): void {
    this.andExpr();
    while (this.peek('||')) {
      this.pos += 2;
      this.andExpr();
    }
  }

  andExpr(): void {
    this.unary();
    while (this.peek('&&')) {
      this.pos += 2;
      this.unary();
    }
  }

  unary(): void {
    while (this.peek('!') && !this.peek('!=')) this.pos++;
    this.primary();
  }

  primary(): void {
    this.skipSpace();
    if (this.pos >= this.text.length) this.fail('unexpected end of selector');
    const rest = this.text.slice(this.pos);
    if (rest.startsWith('(')) {
      this.pos++;
      this.orExpr();
      this.expect(')');
      return;
    }
    const fn = /^(all|global)\(/.exec(rest);
    if (fn) {
      this.pos += fn[0].length;
      this.expect(')');
      return;
    }
    if (rest.startsWith('has(')) {
      this.pos += 4;
      this.key();
      this.expect(')');
      return;
    }
    const keyStart = this.pos;
    this.key();
    if (this.peek('==') || this.peek('!=')) {
      this.pos += 2;
      this.string();
      return;
    }
    const op = this.keyword();
    if (op === undefined) {
      this.skipSpace();
      const ch = this.text[this.pos];
      if (ch === '=' || ch === '&' || ch === '|') this.fail(`unexpected ${JSON.stringify(ch)}`);
      this.fail(`expected an operator after label ${JSON.stringify(this.text.slice(keyStart, this.pos).trim())}`);
    }
    if (op === 'in' || op === 'notin') {
      this.expect('{');
      if (this.peek('}')) {
        this.pos++;
        return;
      }
      for (;;) {
        this.string();
        if (this.peek('}')) {
          this.pos++;
          return;
        }
        this.expect(',');
        if (this.peek('}')) {
          this.pos++;
          return;
        }
      }
    }
    this.string();
  }

  run(): void {
    if (this.atEnd()) return; // empty selector = all()
    this.orExpr();
    if (!this.atEnd()) this.fail(`unexpected ${JSON.stringify(this.text[this.pos])} after the expression`);
  }
}

/** Checks selector syntax; undefined when valid. */
export function checkSelectorSyntax(text: string): SelectorSyntaxError | undefined {
  try {
    new Checker(text).run();
    return undefined;
  } catch (error) {
    const position = (error as { selectorPosition?: number }).selectorPosition ?? 0;
    return { reason: (error as Error).message, position };
  }
}
