/**
 * `npm run bench [-- --quick] [-- --markdown] [-- FILTER...]`: runs every `bench/*.bench.ts`, prints one
 * table (metric, value, baseline, ratio, target, met?) and writes `bench/results/latest.json`.
 * `--markdown` prints the table as Markdown instead (as pasted in the README).
 */
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchRow } from './lib.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const markdown = args.includes('--markdown');
const filters = args.filter((a) => !a.startsWith('--'));

function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return '';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toPrecision(3);
}

const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
const rows: BenchRow[] = [];
let failed = false;
for (const file of files) {
  const log = (message: string) => process.stderr.write(`[${file}] ${message}\n`);
  log('running');
  try {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Bench };
    rows.push(...(await mod.default({ quick, log })));
  } catch (error) {
    failed = true;
    log(`FAILED: ${(error as Error).stack ?? error}`);
  }
}

const header = ['metric', 'value', 'unit', 'baseline', 'ratio', 'target', 'met?'];
const table = rows.map((r) => [
  r.name,
  fmt(r.value),
  r.unit,
  fmt(r.baseline),
  r.ratio === undefined ? '' : r.ratio.toFixed(2),
  r.target ?? '',
  r.met === undefined ? '' : r.met ? 'yes' : 'NO',
]);
if (markdown) {
  console.log(`| ${header.join(' | ')} |`);
  console.log('|---|---:|---|---:|---:|---|---|');
  for (const row of table) console.log(`| ${row.map((c, i) => (i === 6 && c === 'NO' ? '**no**' : c)).join(' | ')} |`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 1 || i === 3 || i === 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'latest.json'), JSON.stringify(rows, null, 2) + '\n');
if (failed) process.exit(1);
