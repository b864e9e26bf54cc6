/**
 * @libcalico-ts/selector: parse cost and match throughput (targets from the task: parse of a
 * 3-term selector <= 3 us/op, >= 5,000,000 matches/s of a 3-term selector on a 10-label map).
 */
import type { Bench } from './lib.js';
import { measureSync, targetRow } from './lib.js';
import { parseSelector } from '@libcalico-ts/selector';

const bench: Bench = async ({ quick, log }) => {
  const minMs = quick ? 300 : 1000;
  const text = "has(a) && b == 'x' && c in {'1', '2'}";
  let sink = 0;

  log('parse');
  const parse = measureSync(() => {
    sink += parseSelector(text).source.length;
  }, { minMs });

  log('match');
  const selector = parseSelector(text);
  // Ten labels each; a mix of matching and non-matching maps so no branch is always taken.
  const maps: Array<Record<string, string>> = [];
  for (let i = 0; i < 64; i++) {
    const labels: Record<string, string> = {};
    for (let k = 0; k < 7; k++) labels[`projectcalico.org/label-${k}`] = `value-${i}-${k}`;
    if (i % 4 !== 3) labels.a = 'present';
    labels.b = i % 3 === 0 ? 'y' : 'x';
    labels.c = String(1 + (i % 3));
    if (i % 4 === 3) labels.d = 'filler';
    maps.push(labels);
  }
  const batch = maps.length;
  const match = measureSync(
    () => {
      for (let i = 0; i < batch; i++) if (selector.matches(maps[i]!)) sink++;
    },
    { minMs, batch },
  );
  const mapsAsMaps = maps.map((m) => new Map(Object.entries(m)));
  const matchMap = measureSync(
    () => {
      for (let i = 0; i < batch; i++) if (selector.matches(mapsAsMaps[i]!)) sink++;
    },
    { minMs, batch },
  );
  if (sink === -1) log('');

  return [
    targetRow('selector: parse 3-term selector', parse.nsPerOp / 1000, 'us/op', '<=', 3),
    targetRow('selector: matches, 3 terms, 10-label record', match.opsPerSec, 'matches/s', '>=', 5_000_000),
    { name: 'selector: matches, 3 terms, 10-label Map', value: matchMap.opsPerSec, unit: 'matches/s' },
    { name: 'selector: parse throughput', value: parse.opsPerSec, unit: 'parses/s', target: '>= 200000', met: parse.opsPerSec >= 200_000 },
  ];
};

export default bench;
