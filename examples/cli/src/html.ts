/**
 * `calicoctl ipam show --html FILE` (our extension): one self-contained HTML page (inline CSS
 * and SVG, no external assets, no network) picturing IP pools -> blocks -> hosts and their
 * utilization.
 */
import type { PoolUtilization } from '@libcalico-ts/ipam';
import { formatGoG5, formatCountWithPercent } from './format.js';

/** A block as drawn: its CIDR, owning host (from the block's affinity) and usage. */
export interface BlockPicture {
  cidr: string;
  /** `host:<name>` affinity without the prefix; null for an un-owned block. */
  host: string | null;
  capacity: bigint;
  inUse: bigint;
  reserved: bigint;
}

/** Input of {@link renderUtilizationHtml}. */
export interface UtilizationPage {
  /** `client.ipam.getUtilization()`. */
  usage: readonly PoolUtilization[];
  /** Owner of each block by CIDR (`affinity` of the stored blocks). */
  owners: ReadonlyMap<string, string | null>;
  title?: string;
  /** Shown under the title (e.g. the datastore and time); omitted when absent. */
  subtitle?: string;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A stable colour per host (FNV-1a of the name -> hue). */
export function hostColor(host: string | null): string {
  if (host === null) return '#9e9e9e';
  let h = 0x811c9dc5;
  for (let i = 0; i < host.length; i++) {
    h ^= host.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `hsl(${h % 360}, 62%, 48%)`;
}

const TILE_W = 150;
const TILE_H = 74;
const GAP = 10;
const PER_ROW = 6;

function percent(n: bigint, c: bigint): number {
  return c === 0n ? 0 : (100 * Number(n)) / Number(c);
}

function blockTile(block: BlockPicture, x: number, y: number): string {
  const used = percent(block.inUse, block.capacity);
  const fillW = Math.max(0, Math.min(TILE_W, (TILE_W * used) / 100));
  const color = hostColor(block.host);
  const host = block.host ?? 'unowned';
  return (
    `<g class="block" data-cidr="${escapeHtml(block.cidr)}" data-host="${escapeHtml(host)}" data-in-use="${block.inUse}" data-capacity="${block.capacity}" transform="translate(${x},${y})">` +
    `<title>${escapeHtml(`${block.cidr} on ${host}: ${formatCountWithPercent(block.inUse, block.capacity)} in use, ${block.reserved} reserved`)}</title>` +
    `<rect class="frame" width="${TILE_W}" height="${TILE_H}" rx="6" fill="#ffffff" stroke="${color}" stroke-width="2"/>` +
    `<rect class="fill" x="0" y="${TILE_H - 14}" width="${fillW.toFixed(2)}" height="14" rx="3" fill="${color}"/>` +
    `<text x="8" y="20" class="cidr">${escapeHtml(block.cidr)}</text>` +
    `<text x="8" y="38" class="host" fill="${color}">${escapeHtml(host)}</text>` +
    `<text x="8" y="54" class="count">${escapeHtml(`${formatGoG5(block.inUse)} / ${formatGoG5(block.capacity)} in use`)}</text>` +
    `</g>`
  );
}

function poolSection(pool: PoolUtilization, owners: ReadonlyMap<string, string | null>, orphan: boolean): string {
  const blocks: BlockPicture[] = [...pool.blocks]
    .sort((a, b) => (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0))
    .map((b) => ({ cidr: b.cidr, host: owners.get(b.cidr) ?? null, capacity: b.capacity, inUse: b.inUse, reserved: b.reserved }));
  if (orphan && blocks.length === 0) return '';
  const rows = Math.max(1, Math.ceil(blocks.length / PER_ROW));
  const width = PER_ROW * (TILE_W + GAP) + GAP;
  const height = rows * (TILE_H + GAP) + GAP;
  const tiles = blocks.map((b, i) => blockTile(b, GAP + (i % PER_ROW) * (TILE_W + GAP), GAP + Math.floor(i / PER_ROW) * (TILE_H + GAP))).join('');
  const heading = orphan
    ? 'Blocks outside every IP pool'
    : `IP Pool ${escapeHtml(pool.name)} <code>${escapeHtml(pool.cidr)}</code> &mdash; ${escapeHtml(formatCountWithPercent(pool.inUse, pool.capacity))} in use of ${escapeHtml(formatGoG5(pool.capacity))}`;
  const poolBar = orphan
    ? ''
    : `<svg class="pool-bar" width="${width}" height="16" viewBox="0 0 ${width} 16" role="img" aria-label="pool utilization"><rect width="${width}" height="16" rx="4" fill="#e8eaf0"/><rect width="${Math.max(1, (width * percent(pool.inUse, pool.capacity)) / 100).toFixed(2)}" height="16" rx="4" fill="#3b6fd6"/></svg>`;
  // Hosts of this pool: blocks and addresses per host.
  const hosts = new Map<string, { blocks: number; inUse: bigint; capacity: bigint; color: string }>();
  for (const b of blocks) {
    const key = b.host ?? 'unowned';
    const h = hosts.get(key) ?? { blocks: 0, inUse: 0n, capacity: 0n, color: hostColor(b.host) };
    h.blocks++;
    h.inUse += b.inUse;
    h.capacity += b.capacity;
    hosts.set(key, h);
  }
  const hostRows = [...hosts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, h]) => `<tr class="host-row"><td><span class="swatch" style="background:${h.color}"></span>${escapeHtml(name)}</td><td>${h.blocks}</td><td>${escapeHtml(formatCountWithPercent(h.inUse, h.capacity))}</td></tr>`)
    .join('');
  return (
    `<section class="pool" data-cidr="${escapeHtml(pool.cidr)}" data-blocks="${blocks.length}">` +
    `<h2>${heading}</h2>${poolBar}` +
    `<svg class="blocks" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="blocks of ${escapeHtml(pool.cidr)}">${tiles}</svg>` +
    (hostRows ? `<table class="hosts"><thead><tr><th>Host</th><th>Blocks</th><th>Addresses in use</th></tr></thead><tbody>${hostRows}</tbody></table>` : '<p class="empty">No blocks allocated yet.</p>') +
    `</section>`
  );
}

/**
 * Renders the utilization page. Every block is one `<g class="block">` element carrying
 * `data-cidr`, `data-host`, `data-in-use` and `data-capacity`; an inline script (no network)
 * writes the number of drawn blocks to `body[data-drawn-blocks]` once the page is laid out.
 */
export function renderUtilizationHtml(page: UtilizationPage): string {
  const title = page.title ?? 'Calico IPAM utilization';
  let total = 0;
  const sections = page.usage
    .map((pool) => {
      const orphan = !/\/([1-9]\d*)$/.test(pool.cidr);
      total += pool.blocks.length;
      return poolSection(pool, page.owners, orphan);
    })
    .join('');
  const css = [
    'body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d2433;background:#f6f7fb}',
    'h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:18px 0 8px}p.sub{color:#5b6477;margin:0 0 16px}',
    'section.pool{background:#fff;border-radius:10px;padding:12px 16px;margin-bottom:18px;box-shadow:0 1px 3px rgba(0,0,0,.12)}',
    'svg text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}svg text.cidr{font-weight:700}',
    'table.hosts{border-collapse:collapse;margin-top:8px;font-size:13px}table.hosts td,table.hosts th{padding:3px 10px;border-bottom:1px solid #e3e6ee;text-align:left}',
    '.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}code{font-size:14px}',
  ].join('');
  const script = "document.addEventListener('DOMContentLoaded',function(){document.body.setAttribute('data-drawn-blocks',String(document.querySelectorAll('g.block').length));});";
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${css}</style></head>` +
    `<body data-total-blocks="${total}"><h1>${escapeHtml(title)}</h1>` +
    (page.subtitle ? `<p class="sub">${escapeHtml(page.subtitle)}</p>` : '') +
    (sections || '<p class="empty">No IP pools.</p>') +
    `<script>${script}</script></body></html>\n`
  );
}
