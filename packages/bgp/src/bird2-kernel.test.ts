/**
 * What the bird2 dialect adds so that a stock BIRD 2 programs the kernel the way Calico's
 * BIRD 1.x does: no metric of BIRD's own, no device routes, normal-priority routes without a
 * metric, and pod routes without a metric (kernel metric 0) not exported beside their block.
 * The calico dialect keeps confd's text (the golden fixtures check it byte for byte).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderBirdConfig } from './render.js';
import type { BirdConfigFiles, RenderBirdConfigOptions } from './types.js';

const v3 = 'projectcalico.org/v3' as const;
type R = RenderBirdConfigOptions['resources'][number];

function node(name: string, v4: string, v6: string): R {
  return { apiVersion: v3, kind: 'Node', metadata: { name }, spec: { bgp: { ipv4Address: v4, ipv6Address: v6 } } };
}

const base: R[] = [
  node('n1', '10.0.0.1/24', 'fd00::1/64'),
  node('n2', '10.0.0.2/24', 'fd00::2/64'),
  { apiVersion: v3, kind: 'IPPool', metadata: { name: 'p4' }, spec: { cidr: '10.244.0.0/16', ipipMode: 'Never', vxlanMode: 'Never' } },
  { apiVersion: v3, kind: 'IPPool', metadata: { name: 'p6' }, spec: { cidr: 'fd10::/48' } },
  { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'tor' }, spec: { peerIP: '10.0.0.254', asNumber: 65001 } },
  { apiVersion: v3, kind: 'BGPPeer', metadata: { name: 'tor6' }, spec: { peerIP: 'fd00::fe', asNumber: 65001 } },
];
const affinities = [
  { node: 'n1', cidr: '10.244.1.0/26', state: 'confirmed' },
  { node: 'n1', cidr: 'fd10::100/122', state: 'confirmed' },
];

function render(dialect: 'calico' | 'bird2', extra: R[] = []): BirdConfigFiles {
  return renderBirdConfig({ nodeName: 'n1', resources: [...base, ...extra], blockAffinities: affinities, dialect });
}

/** The text of the first top-level `<header> { ... }` block that starts with `header`. */
function section(text: string, header: string): string {
  const start = text.indexOf(header);
  assert.ok(start >= 0, `no "${header}" in\n${text}`);
  const end = text.indexOf('\n}', start);
  return text.slice(start, end + 2);
}

/** The body lines of every peer's export filter. */
function exportFilters(birdCfg: string): string[] {
  return [...birdCfg.matchAll(/export filter \{\n([\s\S]*?)\n\s*\};/g)].map((m) => m[1]!);
}

const families = [
  { main: 'bird.cfg', ipam: 'bird_ipam.cfg', aggr: 'bird_aggr.cfg', channel: 'ipv4' },
  { main: 'bird6.cfg', ipam: 'bird6_ipam.cfg', aggr: 'bird6_aggr.cfg', channel: 'ipv6' },
] as const;

describe('bird2 dialect: kernel protocol as BIRD 1.x', () => {
  for (const f of families) {
    it(`${f.main}: the kernel protocol sets metric 0 (BIRD 2 would stamp 32 on every route)`, () => {
      const kernel = section(render('bird2')[f.main], 'protocol kernel from kernel_template {');
      assert.match(kernel, new RegExp(`^ {2}${f.channel} \\{ import all; export filter calico_kernel_programming; \\};`, 'm'));
      assert.equal(kernel.match(/^ {2}metric 0;/gm)?.length, 1, kernel);
      // The kernel template (learn, persist, scan time) is unchanged.
      assert.match(section(render('bird2')[f.main], 'template kernel kernel_template {'), /learn;(.|\n)*persist;(.|\n)*scan time 2;/);
    });

    it(`${f.ipam}: device (direct-protocol) routes are rejected before anything else reaches the kernel`, () => {
      const withRejects = render('bird2', [
        { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { serviceClusterIPs: [{ cidr: '10.96.0.0/12' }, { cidr: 'fd20::/112' }] } },
      ]);
      for (const files of [render('bird2'), withRejects]) {
        const filter = section(files[f.ipam], 'filter calico_kernel_programming {');
        const lines = filter.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
        assert.equal(lines[1], '  if (source = RTS_DEVICE) then { reject; }', filter);
        assert.equal(filter.match(/RTS_DEVICE/g)?.length, 1);
      }
      // The service range reject is there too, after the device reject.
      assert.match(section(withRejects[f.ipam], 'filter calico_kernel_programming {'), /RTS_DEVICE(.|\n)*# Don't program static routes into kernel\./);
    });
  }

  it('the calico dialect keeps confd text: no metric line, no device reject (BIRD 1.x does both itself)', () => {
    const files = render('calico');
    for (const f of families) {
      assert.doesNotMatch(files[f.main], /metric 0;/);
      assert.doesNotMatch(files[f.ipam], /RTS_DEVICE/);
    }
  });
});

describe('bird2 dialect: route priorities', () => {
  it('BGP routes at normal (or lower) priority get no kernel metric; elevated ones keep theirs', () => {
    for (const f of families) {
      const filter = section(render('bird2')[f.ipam], 'filter calico_kernel_programming {');
      assert.ok(
        filter.includes(
          [
            '  if (defined(source) && (source = RTS_BGP) && !defined(krt_metric)) then {',
            '      krt_metric = 1024;',
            '      if (defined(bgp_local_pref)) then {',
            '          krt_metric = 2147483647 - bgp_local_pref;',
            '      }',
            '      if (krt_metric < 1024) then {',
            '          preference = 200;',
            '      } else {',
            '          krt_metric = 0; # normal priority: no kernel metric',
            '      }',
            '  }',
          ].join('\n'),
        ),
        filter,
      );
    }
    // calico: confd's text, without the else branch.
    const calico = section(render('calico')['bird_ipam.cfg'], 'filter calico_kernel_programming {');
    assert.match(calico, / {6}if \(krt_metric < 1024\) then \{\n {10}preference = 200;\n {6}\}\n {2}\}/);
    assert.doesNotMatch(calico, /krt_metric = 0/);
  });

  it('every peer export filter treats a kernel metric of 0 as "no metric" (normal priority)', () => {
    const files = render('bird2');
    for (const f of families) {
      const filters = exportFilters(files[f.main]);
      // Mesh peer + global peer of the family.
      assert.equal(filters.length, 2, files[f.main]);
      for (const body of filters) {
        assert.match(body, /^ {8}if \(!defined\(krt_metric\) \|\| krt_metric = 0\) then \{ krt_metric = 1024; \}/m);
        assert.match(body, /^ {8}bgp_local_pref = 2147483647 - krt_metric;$/m);
      }
    }
    for (const body of exportFilters(render('calico')['bird.cfg'])) {
      assert.match(body, /^ {6}if \(!defined\(krt_metric\)\) then \{ krt_metric = 1024; \}$/m);
      assert.doesNotMatch(body, /krt_metric = 0/);
    }
  });

  it('the thresholds follow ipv4NormalRoutePriority / ipv6NormalRoutePriority', () => {
    const files = render('bird2', [
      { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name: 'default' }, spec: { ipv4NormalRoutePriority: 2000, ipv6NormalRoutePriority: 3000 } },
    ]);
    for (const [f, p] of [[families[0], 2000], [families[1], 3000]] as const) {
      for (const body of exportFilters(files[f.main])) assert.ok(body.includes(`krt_metric = 0) then { krt_metric = ${p}; }`), body);
      const kernel = section(files[f.ipam], 'filter calico_kernel_programming {');
      assert.ok(kernel.includes(`krt_metric = ${p};`) && kernel.includes(`if (krt_metric < ${p}) then {`), kernel);
      assert.match(files[f.aggr], new RegExp(`krt_metric < ${p} \\) then \\{ accept; \\}`));
    }
  });

  it('calico_aggr keeps the elevated-priority branch in both dialects (same text)', () => {
    const a = render('bird2')['bird_aggr.cfg'];
    const c = render('calico')['bird_aggr.cfg'];
    const aggr = (t: string) => t.slice(t.indexOf('function calico_aggr ()'));
    assert.equal(aggr(a), aggr(c));
    assert.match(aggr(a), /if \( net ~ 10\.244\.1\.0\/26 && krt_metric < 1024 \) then \{ accept; \}/);
  });
});
