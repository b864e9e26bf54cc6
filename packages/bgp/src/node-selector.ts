/**
 * Node selector matching for BGPPeer `nodeSelector` / `peerSelector`.
 * TEMPORARY minimal evaluator until @libcalico-ts/selector lands; replaced by parseSelector.
 */
export function compileNodeSelector(text: string): (labels: Record<string, string>) => boolean {
  let pos = 0;
  const s = text;
  const ws = () => {
    while (pos < s.length && /\s/.test(s[pos]!)) pos++;
  };
  const ident = (): string => {
    ws();
    const m = /^[a-zA-Z0-9_./\-]+/.exec(s.slice(pos));
    if (!m) throw new Error(`expected a label name at ${pos}`);
    pos += m[0].length;
    return m[0];
  };
  const strLit = (): string => {
    ws();
    const q = s[pos];
    if (q !== '"' && q !== "'") throw new Error(`expected a string at ${pos}`);
    const end = s.indexOf(q, pos + 1);
    if (end < 0) throw new Error('unterminated string');
    const v = s.slice(pos + 1, end);
    pos = end + 1;
    return v;
  };
  type F = (l: Record<string, string>) => boolean;
  const primary = (): F => {
    ws();
    if (s.startsWith('!', pos) && !s.startsWith('!=', pos)) {
      pos++;
      const inner = primary();
      return (l) => !inner(l);
    }
    if (s[pos] === '(') {
      pos++;
      const e = orExpr();
      ws();
      if (s[pos] !== ')') throw new Error('expected )');
      pos++;
      return e;
    }
    if (s.startsWith('all()', pos)) {
      pos += 5;
      return () => true;
    }
    if (s.startsWith('has(', pos)) {
      pos += 4;
      const k = ident();
      ws();
      if (s[pos] !== ')') throw new Error('expected )');
      pos++;
      return (l) => Object.prototype.hasOwnProperty.call(l, k);
    }
    const k = ident();
    ws();
    if (s.startsWith('==', pos)) {
      pos += 2;
      const v = strLit();
      return (l) => l[k] === v;
    }
    if (s.startsWith('!=', pos)) {
      pos += 2;
      const v = strLit();
      return (l) => l[k] !== v;
    }
    throw new Error(`unexpected input at ${pos}`);
  };
  const andExpr = (): F => {
    let left = primary();
    for (;;) {
      ws();
      if (!s.startsWith('&&', pos)) return left;
      pos += 2;
      const a = left;
      const b = primary();
      left = (l) => a(l) && b(l);
    }
  };
  const orExpr = (): F => {
    let left = andExpr();
    for (;;) {
      ws();
      if (!s.startsWith('||', pos)) return left;
      pos += 2;
      const a = left;
      const b = andExpr();
      left = (l) => a(l) || b(l);
    }
  };
  const e = orExpr();
  ws();
  if (pos !== s.length) throw new Error(`unexpected input at ${pos}`);
  return e;
}
