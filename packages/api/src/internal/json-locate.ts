/**
 * Finds the offset of the first syntax error in JSON text (strict RFC 8259), with a reason.
 * Used only to position a `ParseError` after `JSON.parse` failed (its message does not always
 * carry a position).
 */
export function locateJSONError(text: string): { position: number; reason: string } | undefined {
  let pos = 0;
  const fail = (reason: string): never => {
    throw Object.assign(new Error(reason), { at: pos });
  };
  const ws = (): void => {
    while (pos < text.length && ' \t\n\r'.includes(text[pos]!)) pos++;
  };
  const literal = (word: string): void => {
    if (text.startsWith(word, pos)) pos += word.length;
    else fail(`unexpected ${describe()}`);
  };
  const describe = (): string => (pos >= text.length ? 'end of input' : `character ${JSON.stringify(text[pos])}`);
  const string = (): void => {
    pos++; // opening quote
    while (pos < text.length) {
      const ch = text[pos]!;
      if (ch === '"') {
        pos++;
        return;
      }
      if (ch === '\\') {
        const next = text[pos + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) fail('invalid \\u escape');
          pos += 6;
          continue;
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) fail('invalid escape sequence');
        pos += 2;
        continue;
      }
      if (ch.charCodeAt(0) < 0x20) fail('control character in string');
      pos++;
    }
    fail('unterminated string');
  };
  const number = (): void => {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(pos));
    if (!match || match[0] === '' || match[0] === '-') fail(`unexpected ${describe()}`);
    pos += match![0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[pos];
    if (ch === '{') {
      pos++;
      ws();
      if (text[pos] === '}') {
        pos++;
        return;
      }
      for (;;) {
        ws();
        if (text[pos] !== '"') fail(`expected a double-quoted property name, got ${describe()}`);
        string();
        ws();
        if (text[pos] !== ':') fail(`expected ':' after property name, got ${describe()}`);
        pos++;
        value();
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return;
        }
        fail(`expected ',' or '}' in object, got ${describe()}`);
      }
    }
    if (ch === '[') {
      pos++;
      ws();
      if (text[pos] === ']') {
        pos++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return;
        }
        fail(`expected ',' or ']' in array, got ${describe()}`);
      }
    }
    if (ch === '"') return string();
    if (ch === 't') return literal('true');
    if (ch === 'f') return literal('false');
    if (ch === 'n') return literal('null');
    return number();
  };
  try {
    value();
    ws();
    if (pos < text.length) fail(`unexpected ${describe()} after the JSON value`);
    return undefined;
  } catch (error) {
    return { position: (error as { at: number }).at, reason: (error as Error).message };
  }
}

/** One-based line and column of `position` in `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}
