/**
 * @libcalico-ts/net hot paths: what IPAM does per address (ordinal -> address -> text and back)
 * and parsing. IPAM needs >= 300,000 addresses/s end to end, so the per-address net work is
 * targeted at ten times that.
 */
import type { Bench } from './lib.js';
import { measureSync, targetRow } from './lib.js';
import { addressAt, blockContaining, ordinalOf, parseCIDR, parseIP, splitIntoBlocks } from '@libcalico-ts/net';

const bench: Bench = async ({ quick, log }) => {
  const minMs = quick ? 200 : 800;
  const block4 = parseCIDR('10.0.0.64/26');
  const block6 = parseCIDR('fd00:10:244::/122');
  const batch = 64;
  let sink = 0;

  log('addressAt + toString');
  const at4 = measureSync(
    () => {
      for (let k = 0; k < batch; k++) sink += addressAt(block4, k).toString().length;
    },
    { minMs, batch },
  );
  const at6 = measureSync(
    () => {
      for (let k = 0; k < batch; k++) sink += addressAt(block6, k).toString().length;
    },
    { minMs, batch },
  );

  log('parseIP + ordinalOf');
  const texts4 = Array.from({ length: batch }, (_, k) => addressAt(block4, k).toString());
  const texts6 = Array.from({ length: batch }, (_, k) => addressAt(block6, k).toString());
  const ord4 = measureSync(
    () => {
      for (const t of texts4) sink += ordinalOf(block4, parseIP(t));
    },
    { minMs, batch },
  );
  const ord6 = measureSync(
    () => {
      for (const t of texts6) sink += ordinalOf(block6, parseIP(t));
    },
    { minMs, batch },
  );

  log('parseCIDR, blockContaining, splitIntoBlocks');
  const cidr = measureSync(() => {
    sink += parseCIDR('fd80:24e2:f998:72d6::/122').prefixLength;
  }, { minMs });
  const containing = measureSync(() => {
    sink += blockContaining(texts4[7]!, 26).prefixLength;
  }, { minMs });
  const pool = parseCIDR('10.0.0.0/8');
  const split = measureSync(
    () => {
      let n = 0;
      for (const b of splitIntoBlocks(pool, 26)) {
        sink += b.prefixLength;
        if (++n === 1024) break;
      }
    },
    { minMs, batch: 1024 },
  );
  if (sink === 42) log('');

  return [
    targetRow('net: addressAt+toString IPv4', at4.opsPerSec, 'ops/s', '>=', 3_000_000),
    targetRow('net: addressAt+toString IPv6', at6.opsPerSec, 'ops/s', '>=', 1_000_000),
    targetRow('net: parseIP+ordinalOf IPv4', ord4.opsPerSec, 'ops/s', '>=', 3_000_000),
    targetRow('net: parseIP+ordinalOf IPv6', ord6.opsPerSec, 'ops/s', '>=', 1_000_000),
    { name: 'net: parseCIDR IPv6', value: cidr.opsPerSec, unit: 'ops/s' },
    { name: 'net: blockContaining IPv4 text', value: containing.opsPerSec, unit: 'ops/s' },
    { name: 'net: splitIntoBlocks /8 -> /26', value: split.opsPerSec, unit: 'blocks/s' },
  ];
};

export default bench;
