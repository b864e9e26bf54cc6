import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OperationNotSupportedError, ResourceNotFoundError, ValidationError } from '@libcalico-ts/api';
import { normalizeBirdConfig, renderBirdConfig, renderBirdConfigWithWarnings } from './render.js';
import type { RenderBirdConfigOptions } from './types.js';
import { hashToIPv4 } from './util.js';

const v3 = 'projectcalico.org/v3' as const;
type R = RenderBirdConfigOptions['resources'][number];

function node(name: string, v4?: string, v6?: string, bgp: Record<string, unknown> = {}, labels: Record<string, string> = {}): R {
  return { apiVersion: v3, kind: 'Node', metadata: { name, labels }, spec: { bgp: { ...(v4 ? { ipv4Address: v4 } : {}), ...(v6 ? { ipv6Address: v6 } : {}), ...bgp } } };
}
function bgpConfig(spec: Record<string, unknown>, name = 'default'): R {
  return { apiVersion: v3, kind: 'BGPConfiguration', metadata: { name }, spec };
}
function peer(name: string, spec: Record<string, unknown>): R {
  return { apiVersion: v3, kind: 'BGPPeer', metadata: { name }, spec };
}
function pool(name: string, spec: Record<string, unknown>): R {
  return { apiVersion: v3, kind: 'IPPool', metadata: { name }, spec };
}
function protocols(text: string): string[] {
  return [...text.matchAll(/^protocol bgp (\S+) from/gm)].map((m) => m[1]!);
}
function block(text: string, name: string): string {
  const start = text.indexOf(`protocol bgp ${name} from`);
  assert.ok(start >= 0, `no protocol ${name}`);
  return text.slice(start, text.indexOf('\n}', start) + 2);
}

const three = [node('n1', '10.0.0.1/24'), node('n2', '10.0.0.10/24'), node('n3', '10.0.0.9/24')];

describe('renderBirdConfig', () => {
  it('returns the six files', () => {
    const files = renderBirdConfig({ nodeName: 'n1', resources: three });
    assert.deepEqual(Object.keys(files).sort(), ['bird.cfg', 'bird6.cfg', 'bird6_aggr.cfg', 'bird6_ipam.cfg', 'bird_aggr.cfg', 'bird_ipam.cfg']);
    assert.match(files['bird.cfg'], /include "bird_aggr\.cfg";\ninclude "bird_ipam\.cfg";/);
    assert.match(files['bird6.cfg'], /# IPv6 disabled on this node\./);
  });

  it('mesh: default AS 64512, passive decided by string comparison of the addresses', () => {
    // "10.0.0.10" < "10.0.0.9" as strings, so from n3 (10.0.0.9) n2 is not passive.
    const f = renderBirdConfig({ nodeName: 'n3', resources: three })['bird.cfg'];
    assert.deepEqual(protocols(f), ['Mesh_10_0_0_1', 'Mesh_10_0_0_10']);
    assert.match(f, /local as 64512;/);
    assert.doesNotMatch(block(f, 'Mesh_10_0_0_10'), /passive on;/);
    const f1 = renderBirdConfig({ nodeName: 'n1', resources: three })['bird.cfg'];
    assert.match(block(f1, 'Mesh_10_0_0_9'), /passive on;/);
    assert.match(block(f1, 'Mesh_10_0_0_10'), /passive on;/);
  });

  it('mesh off and no peers: says so', () => {
    const f = renderBirdConfig({ nodeName: 'n1', resources: [...three, bgpConfig({ nodeToNodeMeshEnabled: false })] })['bird.cfg'];
    assert.match(f, /# No BGP peers configured for this node/);
  });

  it('a route reflector leaves the mesh and reflects to iBGP peers', () => {
    const resources = [
      node('n1', '10.0.0.1/24', undefined, { routeReflectorClusterID: '1.1.1.1' }, { rr: 'true' }),
      node('n2', '10.0.0.2/24'),
      peer('p', { nodeSelector: 'has(rr)', peerSelector: '!has(rr)' }),
    ];
    const f = renderBirdConfig({ nodeName: 'n1', resources })['bird.cfg'];
    assert.deepEqual(protocols(f), ['Node_10_0_0_2']);
    assert.match(block(f, 'Node_10_0_0_2'), /rr client;\n {2}rr cluster id 1\.1\.1\.1;/);
    // n2 gets the reverse peering and no mesh peer to the RR.
    const f2 = renderBirdConfig({ nodeName: 'n2', resources })['bird.cfg'];
    assert.deepEqual(protocols(f2), ['Node_10_0_0_1']);
  });

  it('CALICO_ROUTER_ID: hash, explicit, default', () => {
    const r = (env: RenderBirdConfigOptions['environment']) => renderBirdConfig({ nodeName: 'n1', resources: three, environment: env })['bird.cfg'];
    assert.match(r({}), /router id 10\.0\.0\.1;/);
    assert.match(r({ CALICO_ROUTER_ID: '9.9.9.9' }), /router id 9\.9\.9\.9;/);
    assert.match(r({ CALICO_ROUTER_ID: 'hash' }), new RegExp(`router id ${hashToIPv4('n1').replace(/\./g, '\\.')};`));
  });

  it('passwords come from the injected secret lookup, in $NAMESPACE', () => {
    const seen: string[] = [];
    const resources = [...three, peer('p', { peerIP: '192.0.2.1', asNumber: 65000, password: { secretKeyRef: { name: 's', key: 'k' } } })];
    const f = renderBirdConfig({
      nodeName: 'n1',
      resources,
      environment: { NAMESPACE: 'calico-system' },
      secrets: (name, key, ns) => (seen.push(`${ns}/${name}/${key}`), 'p@ss'),
    })['bird.cfg'];
    assert.match(block(f, 'Global_192_0_2_1'), /password "p@ss";/);
    assert.deepEqual([...new Set(seen)], ['calico-system/s/k']);
    const none = renderBirdConfig({ nodeName: 'n1', resources, secrets: () => undefined })['bird.cfg'];
    assert.doesNotMatch(none, /password/);
  });

  it('keepOriginalNextHop applies to eBGP only; nextHopMode wins', () => {
    const resources = [
      ...three,
      peer('ebgp', { peerIP: '192.0.2.1', asNumber: 65000, keepOriginalNextHop: true }),
      peer('ibgp', { peerIP: '192.0.2.2', asNumber: 64512, keepOriginalNextHop: true }),
      peer('self', { peerIP: '192.0.2.3', asNumber: 65000, nextHopMode: 'Self' }),
    ];
    const f = renderBirdConfig({ nodeName: 'n1', resources })['bird.cfg'];
    assert.match(block(f, 'Global_192_0_2_1'), /next hop keep;/);
    assert.doesNotMatch(block(f, 'Global_192_0_2_2'), /next hop/);
    assert.match(block(f, 'Global_192_0_2_2'), /calico_export_to_bgp_peers\(true\);/);
    assert.match(block(f, 'Global_192_0_2_3'), /next hop self;/);
  });

  it('ttlSecurity, restart and keepalive times, allow local as, local as', () => {
    const resources = [
      ...three,
      peer('p', { peerIP: '192.0.2.1', asNumber: 65000, ttlSecurity: 3, maxRestartTime: '2m0.5s', keepaliveTime: '20s', numAllowedLocalASNumbers: 1, localASNumber: 65000 }),
    ];
    const b = block(renderBirdConfig({ nodeName: 'n1', resources })['bird.cfg'], 'Global_192_0_2_1');
    assert.match(b, /^ {2}local as 65000;\n {2}neighbor 192\.0\.2\.1 as 65000;/m);
    assert.match(b, /ttl security on;\n {2}multihop 3;/);
    assert.match(b, /graceful restart time 121;\n {2}keepalive time 20;/);
    assert.match(b, /allow local as 1;/);
    assert.match(b, /calico_export_to_bgp_peers\(true\);/);
  });

  it('reachableBy adds a static route to the peer', () => {
    const resources = [...three, peer('p', { peerIP: '192.0.2.1', asNumber: 65000, reachableBy: '10.0.0.254' })];
    const aggr = renderBirdConfig({ nodeName: 'n1', resources })['bird_aggr.cfg'];
    assert.match(aggr, /# Static routes needed for global BGP peers\.\n {3}route 192\.0\.2\.1\/32 via 10\.0\.0\.254;/);
    assert.match(aggr, /protocol static from static_template/);
  });

  it('blocks: pending dropped, /32 without blackhole, states in calico_aggr', () => {
    const aggr = renderBirdConfig({
      nodeName: 'n1',
      resources: three,
      blockAffinities: [
        { node: 'n1', cidr: '10.244.0.64/26', state: 'confirmed' },
        { node: 'n1', cidr: '10.244.0.0/26', state: 'pending' },
        { node: 'n1', cidr: '10.244.1.1/32' },
        { node: 'n1', cidr: '10.244.0.128/26', state: 'pendingDeletion' },
        { node: 'n2', cidr: '10.244.9.0/26', state: 'confirmed' },
        { apiVersion: v3, kind: 'BlockAffinity', metadata: { name: 'x' }, spec: { node: 'n1', cidr: '10.244.3.0/26', state: 'confirmed', deleted: false } },
      ],
    })['bird_aggr.cfg'];
    const routes = [...aggr.matchAll(/route (\S+) blackhole;/g)].map((m) => m[1]);
    assert.deepEqual(routes, ['10.244.0.128/26', '10.244.0.64/26', '10.244.3.0/26']);
    assert.match(aggr, /# Block 10\.244\.1\.1\/32 is implicitly confirmed\.\n {6}if \( net = 10\.244\.1\.1\/32 \)/);
    assert.match(aggr, /# Block 10\.244\.0\.128\/26 is pendingDeletion\n {6}# Block 10\.244\.0\.64\/26 is confirmed\n/);
    assert.doesNotMatch(aggr, /10\.244\.0\.0\/26|10\.244\.9\.0/);
  });

  it('pool modes and programClusterRoutes', () => {
    const resources = [
      ...three,
      pool('a', { cidr: '10.1.0.0/16', ipipMode: 'Always' }),
      pool('c', { cidr: '10.2.0.0/16', ipipMode: 'CrossSubnet' }),
      pool('n', { cidr: '10.3.0.0/16' }),
      pool('v', { cidr: '10.4.0.0/16', vxlanMode: 'Always' }),
      pool('d', { cidr: '10.5.0.0/16', disableBGPExport: true }),
    ];
    const def = renderBirdConfig({ nodeName: 'n1', resources })['bird_ipam.cfg'];
    assert.match(def, /\(ifname ~ "tunl0"\)/);
    assert.match(def, /if \(net ~ 10\.1\.0\.0\/16\) then \{ reject; \} # Cluster routes are handled by Felix\./);
    assert.match(def, /if \(net ~ 10\.3\.0\.0\/16\) then \{ accept; \}\n(.|\n)*filter calico_kernel_programming/);
    assert.match(def, /if \(net ~ 10\.4\.0\.0\/16\) then \{ reject; \} # VXLAN routes are handled by Felix\./);
    assert.match(def, /if \(net ~ 10\.5\.0\.0\/16\) then \{ reject; \} # BGP export is disabled\./);
    const en = renderBirdConfig({ nodeName: 'n1', resources: [...resources, bgpConfig({ programClusterRoutes: 'Enabled' })] })['bird_ipam.cfg'];
    assert.doesNotMatch(en, /"tunl0"\)/);
    assert.match(en, /if \(net ~ 10\.1\.0\.0\/16\) then \{ krt_tunnel="tunl0"; accept; \}/);
    assert.match(en, /bgp_next_hop ~ 10\.0\.0\.0\/24\)\) then krt_tunnel=""; else krt_tunnel="tunl0"; accept; \}/);
    assert.throws(
      () => renderBirdConfig({ nodeName: 'n1', dialect: 'bird2', resources: [...resources, bgpConfig({ programClusterRoutes: 'Enabled' })] }),
      (e: unknown) => OperationNotSupportedError.isInstance(e),
    );
  });

  it('output is stable: same input, same text; resource order does not matter', () => {
    const resources = [...three, peer('b', { peerIP: '192.0.2.2', asNumber: 1 }), peer('a', { peerIP: '192.0.2.1', asNumber: 1 })];
    const a = renderBirdConfig({ nodeName: 'n1', resources });
    const b = renderBirdConfig({ nodeName: 'n1', resources: [...resources].reverse() });
    assert.deepEqual(a, b);
  });
});

describe('bad input', () => {
  it('no Node for nodeName: ResourceNotFoundError', () => {
    assert.throws(() => renderBirdConfig({ nodeName: 'ghost', resources: three }), (e: unknown) => ResourceNotFoundError.isInstance(e));
  });

  it('AS numbers out of range: ValidationError naming the field', () => {
    for (const [resources, field] of [
      [[...three, bgpConfig({ asNumber: 4294967296 })], 'spec.asNumber'],
      [[node('n1', '10.0.0.1/24', undefined, { asNumber: -1 })], 'spec.bgp.asNumber'],
      [[...three, peer('p', { peerIP: '192.0.2.1', asNumber: 'AS65000' })], 'spec.asNumber'],
    ] as const) {
      assert.throws(
        () => renderBirdConfig({ nodeName: 'n1', resources }),
        (e: unknown) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === field,
      );
    }
  });

  it('invalid peerIP and reachableBy: that peer is skipped with a warning', () => {
    const { files, warnings } = renderBirdConfigWithWarnings({
      nodeName: 'n1',
      resources: [
        ...three,
        peer('bad-ip', { peerIP: '300.1.1.1', asNumber: 65000 }),
        peer('bad-rb', { peerIP: '192.0.2.1', asNumber: 65000, reachableBy: 'fd00::1' }),
        peer('good', { peerIP: '192.0.2.2', asNumber: 65000 }),
      ],
    });
    assert.deepEqual(warnings.map((w) => [w.code, w.resource?.name]), [
      ['invalid-peer-ip', 'bad-ip'],
      ['invalid-reachable-by', 'bad-rb'],
    ]);
    assert.deepEqual(protocols(files['bird.cfg']).filter((p) => p.startsWith('Global')), ['Global_192_0_2_2']);
  });

  it('invalid selectors: warning, the selector matches nothing', () => {
    const seen: string[] = [];
    const { files, warnings } = renderBirdConfigWithWarnings({
      nodeName: 'n1',
      resources: [...three, bgpConfig({ nodeToNodeMeshEnabled: false }), peer('p', { nodeSelector: 'all()', peerSelector: 'a = = b' })],
      onWarning: (w) => seen.push(w.code),
    });
    assert.deepEqual(warnings.map((w) => w.code), ['invalid-selector']);
    assert.deepEqual(seen, ['invalid-selector']);
    assert.match(files['bird.cfg'], /# No BGP peers configured/);
  });

  it('bad BGPFilter rules: ValidationError listing every problem', () => {
    const filter: R = {
      apiVersion: v3,
      kind: 'BGPFilter',
      metadata: { name: 'f' },
      spec: { importV4: [{ cidr: '10.0.0.0/8', action: 'Accept' }, { action: 'Maybe' }] },
    };
    assert.throws(
      () => renderBirdConfig({ nodeName: 'n1', resources: [...three, filter] }),
      (e: unknown) =>
        ValidationError.isInstance(e) &&
        (e as ValidationError).fields.map((f) => f.name).join() === 'BGPFilter(f).spec.importV4[0].matchOperator,BGPFilter(f).spec.importV4[1].action',
    );
  });

  it('warnings never carry secret values', () => {
    const { warnings } = renderBirdConfigWithWarnings({
      nodeName: 'n1',
      resources: [...three, peer('p', { peerIP: 'nope', asNumber: 1, password: { secretKeyRef: { name: 's', key: 'k' } } })],
      secrets: () => 'TOPSECRET',
    });
    assert.ok(warnings.length > 0);
    assert.ok(!JSON.stringify(warnings).includes('TOPSECRET'));
  });

  it('no IPv4 and no router id: warning', () => {
    const { warnings } = renderBirdConfigWithWarnings({ nodeName: 'n6', resources: [node('n6', undefined, 'fd00::6/64')] });
    assert.deepEqual(warnings.map((w) => w.code), ['missing-router-id']);
  });

  it('non-object options and bad dialect: ValidationError', () => {
    assert.throws(() => renderBirdConfig(null as unknown as RenderBirdConfigOptions), (e: unknown) => ValidationError.isInstance(e));
    assert.throws(
      () => renderBirdConfig({ nodeName: 'n1', resources: three, dialect: 'bird3' as 'bird2' }),
      (e: unknown) => ValidationError.isInstance(e),
    );
  });
});

describe('normalizeBirdConfig', () => {
  it('drops blank lines and ends with one newline', () => {
    assert.equal(normalizeBirdConfig('a\n\n  \n b\n\n'), 'a\n b\n');
    assert.equal(normalizeBirdConfig('a'), 'a\n');
  });
});
