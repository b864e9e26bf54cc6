import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '@libcalico-ts/api';
import type { CommandRunner } from '../command.js';
import { IptablesApplier, parseIptablesSave } from './apply.js';
import { chainName, filterTable, natTable } from './calico.js';
import { renderRestore, renderTableRules, ruleHashes } from './render.js';

const REFERENCE_NAT = `*nat
:cali-OUTPUT - -
:cali-POSTROUTING - -
:cali-PREROUTING - -
:cali-fip-dnat - -
:cali-fip-snat - -
:cali-nat-outgoing - -
-A cali-OUTPUT -m comment --comment "cali:GBTAv2p5CwevEyJm" --jump cali-fip-dnat
-A cali-POSTROUTING -m comment --comment "cali:Z-c7XtVd2Bq7s_hA" --jump cali-fip-snat
-A cali-POSTROUTING -m comment --comment "cali:nYKhEzDlr11Jccal" --jump cali-nat-outgoing
-A cali-POSTROUTING -m comment --comment "cali:SXWvdsbh4Mw7wOln" --out-interface tunl0 -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL --jump MASQUERADE --random-fully
-A cali-PREROUTING -m comment --comment "cali:r6XmIziWUJsdOK6Z" --jump cali-fip-dnat
-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst --jump MASQUERADE --random-fully
-I OUTPUT -m comment --comment "cali:tVnHkvAo15HuiPy0" --jump cali-OUTPUT
-I PREROUTING -m comment --comment "cali:6gwbT8clXdHdC1b1" --jump cali-PREROUTING
-A POSTROUTING -m comment --comment "cali:0i8pjzKKPyA34aQD" --jump cali-POSTROUTING
COMMIT
`;

const pools = [{ cidr: '10.244.0.0/16', natOutgoing: true }];

test('nat table renders byte-for-byte as the reference IPIP example (§10.3)', () => {
  assert.equal(renderRestore(natTable({ pools, tunnelDevices: ['tunl0'] })), REFERENCE_NAT);
});

test('nat variants: VXLAN device, no --random-fully, insert mode, master ipset name, empty chain without natOutgoing pools', () => {
  const vx = renderTableRules(natTable({ pools, tunnelDevices: ['vxlan.calico'] }));
  assert.equal(vx.chains.get('cali-POSTROUTING')![2]!.hash, 'e9dnSgSVNmIcpVhP');
  const plain = renderTableRules(natTable({ pools, tunnelDevices: ['tunl0'], randomFully: false }));
  assert.equal(plain.chains.get('cali-nat-outgoing')![0]!.hash, 'Dw4T8UWPnCLxRJiI');
  assert.equal(plain.chains.get('cali-POSTROUTING')![2]!.hash, 'JHlpT-eSqR1TvyYm');
  const old = renderTableRules(natTable({ pools, postrouting: 'insert' }));
  assert.equal(old.inserts.get('POSTROUTING')![0]!.hash, 'O3lYWMrLQYEMJtB5');
  const master = renderTableRules(natTable({ pools, ipsets: { all: 'cali40network-ip-pools' } }));
  assert.equal(master.chains.get('cali-nat-outgoing')![0]!.hash, 'W_qq_N2KSTWyCvrX');
  assert.equal(natTable({ pools: [{ cidr: '10.244.0.0/16' }] }).chains.find((c) => c.name === 'cali-nat-outgoing')!.rules.length, 0);
  const cidr = natTable({ pools: [{ cidr: '10.244.0.0/16', natOutgoing: true }, { cidr: '10.10.0.0/16' }], match: 'cidr' });
  assert.deepEqual(cidr.chains.find((c) => c.name === 'cali-nat-outgoing')!.rules.map((r) => `${r.match} ${r.action}`), [
    '--destination 10.244.0.0/16 --jump RETURN',
    '--destination 10.10.0.0/16 --jump RETURN',
    '--source 10.244.0.0/16 --jump MASQUERADE --random-fully',
  ]);
  assert.throws(() => natTable({ pools: [{ cidr: '10.244.0.1/16', natOutgoing: true }] }), ValidationError);
});

test('filter forward chain hashes for both mark layouts (§10.4)', () => {
  const v29 = renderTableRules(filterTable({ markLayout: 'v3.29' }));
  assert.deepEqual(v29.chains.get('cali-FORWARD')!.map((r) => r.hash), ['vjrMJCRpqwy5oRoX', 'A_sPAO0mcxbT9mOV', '8ZoYfO5HKXWbB3pk', 'jdEuaPBe14V2hutn', '12bc6HljsMKsmfr-', 'NOSxoaGx8OIstr1z']);
  const v30 = renderTableRules(filterTable());
  assert.deepEqual(v30.chains.get('cali-FORWARD')!.map((r) => r.hash), ['W_vvds1Nw3n9QE2f', 'ZfgmjuiLaA8Pg0kp', 'tAzwBLPaV-j53OOZ', '4Z0Pf0byo05NFe-P', 'hQ7Oc16wmUtLuneJ', 'rnKNH2WxGcRQcIlD']);
  assert.equal(v30.inserts.get('FORWARD')![0]!.hash, 'wUHhoiAYhphO9Mso');
  assert.deepEqual(v30.appends.get('FORWARD')!.map((r) => r.hash), ['S93hcgKJrXEqnTfs', 'mp77cMpurHhyjLrM']);
  assert.equal(ruleHashes('INPUT', [{ action: '--jump cali-INPUT' }])[0], 'Cz_u1IQiXIMmKD4c');
});

test('workload and profile chains reproduce the reference one-pod example (§10.4)', () => {
  const REF = [
    '-A cali-from-wl-dispatch -m comment --comment "cali:Ohl_EiTxOzDVPxwn" --in-interface cali573926084b2 --goto cali-fw-cali573926084b2',
    '-A cali-from-wl-dispatch -m comment --comment "cali:6deCcNkk0MJbe1ba" -m comment --comment "Unknown interface" --jump DROP',
    '-A cali-to-wl-dispatch -m comment --comment "cali:6QIAE9KbRi32o0Kk" --out-interface cali573926084b2 --goto cali-tw-cali573926084b2',
    '-A cali-to-wl-dispatch -m comment --comment "cali:ShU09EHn3LUdXvcW" -m comment --comment "Unknown interface" --jump DROP',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:B2p1QycTq6IYECET" -m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:rNtpJMTZVLBYlYRU" -m conntrack --ctstate INVALID --jump DROP',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:hdGgpcOMa7yhrNa8" --jump MARK --set-mark 0/0x30000',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:SswoMH-TKzFdDSPJ" --jump cali-pri-kns.default',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:kKLtPxzIqUCD2D0r" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:8werkpipxySj2hg4" --jump cali-pri-ksa.default.default',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:bjgkb3UROhnaVJIV" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-tw-cali573926084b2 -m comment --comment "cali:y_2LrhcvsaGJH42j" -m comment --comment "Drop if no profiles matched" --jump DROP',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:twO4SbTWba8pcCkp" -m conntrack --ctstate RELATED,ESTABLISHED --jump ACCEPT',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:cxHAKDrhK8HFsgB7" -m conntrack --ctstate INVALID --jump DROP',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:4-tgpwepphjOb4IR" --jump MARK --set-mark 0/0x30000',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:n1uqBep7Pw0BMfbp" -m comment --comment "Drop VXLAN encapped packets originating in workloads" -p 17 -m multiport --destination-ports 4789 --jump DROP',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:j30SFzLj3KrMOYiR" -m comment --comment "Drop IPinIP encapped packets originating in workloads" -p 4 --jump DROP',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:zEdJBq3SjmiWHED1" --jump cali-pro-kns.default',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:G5rFvgUSimWBSWmJ" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:Bc8GkxhHg9mGA7Dd" --jump cali-pro-ksa.default.default',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:eCpK-7yjY3bFO_zu" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 --jump RETURN',
    '-A cali-fw-cali573926084b2 -m comment --comment "cali:iyIZ1x27_-T5lZMb" -m comment --comment "Drop if no profiles matched" --jump DROP',
    '-A cali-pri-kns.default -m comment --comment "cali:WMSw8BmYOknRHfsz" -m comment --comment "Profile kns.default ingress" --jump MARK --set-mark 0x10000/0x10000',
    '-A cali-pro-kns.default -m comment --comment "cali:Vr81boRqq4V77Sg8" -m comment --comment "Profile kns.default egress" --jump MARK --set-mark 0x10000/0x10000',
    '-A cali-pri-ksa.default.default -m comment --comment "cali:PrckJA84jX_kGp99" -m comment --comment "Profile ksa.default.default ingress"',
    '-A cali-pro-ksa.default.default -m comment --comment "cali:bUZzZcietq9v5Ybq" -m comment --comment "Profile ksa.default.default egress"',
  ];
  const out = renderRestore(
    filterTable({
      workloads: [{ interface: 'cali573926084b2', profiles: ['kns.default', 'ksa.default.default'] }],
      profiles: [{ name: 'kns.default', allowAll: true }, { name: 'ksa.default.default', allowAll: false }],
    }),
  ).split('\n');
  for (const line of REF) assert.ok(out.includes(line), `missing: ${line}`);
});

test('long chain names are hashed as Felix does', () => {
  assert.equal(chainName('cali-pri-', 'ksa.kube-system.coredns'), 'cali-pri-_u2Tn2rSoAPffvE7JO6');
  assert.equal(chainName('cali-tw-', 'cali573926084b2'), 'cali-tw-cali573926084b2');
});

test('parseIptablesSave reads chains, policies and cali hashes', () => {
  const saved = parseIptablesSave(`# Generated
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:cali-FORWARD - [0:0]
-A FORWARD -m comment --comment "cali:wUHhoiAYhphO9Mso" -j cali-FORWARD
-A FORWARD -j ACCEPT
COMMIT
`);
  const filter = saved.get('filter')!;
  assert.equal(filter.get('FORWARD')!.policy, 'DROP');
  assert.deepEqual(filter.get('FORWARD')!.rules.map((r) => r.hash), ['wUHhoiAYhphO9Mso', null]);
  assert.equal(filter.get('cali-FORWARD')!.rules.length, 0);
});

/** A fake iptables: `-V` says nf_tables, save returns `state`, restore records its input. */
function fakeRunner(state: { save: string; restored: string[] }): CommandRunner {
  return {
    async run(command, options) {
      if (command.includes('-V')) return { exitCode: 0, stdout: 'iptables v1.8.9 (nf_tables)\n', stderr: '' };
      if (command[0]!.endsWith('-save')) return { exitCode: 0, stdout: state.save, stderr: '' };
      if (command[0]!.endsWith('-restore')) {
        state.restored.push(options?.input ?? '');
        return { exitCode: 0, stdout: '', stderr: '' };
      }
      return { exitCode: 127, stdout: '', stderr: 'unexpected' };
    },
  };
}

test('IptablesApplier.plan renders nothing when the live hashes match, and repairs misplaced inserts', async () => {
  const def = natTable({ pools, match: 'cidr' });
  const r = renderTableRules(def);
  const chainLines = [...r.chains.values()].flat().map((x) => x.line.replace('--jump', '-j'));
  const decl = [...r.chains.keys()].map((n) => `:${n} - [0:0]`);
  const insert = (c: string) => r.inserts.get(c)![0]!.line.replace(/^-I/, '-A');
  const good = ['*nat', ':PREROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ...decl, insert('PREROUTING'), insert('OUTPUT'), '-A POSTROUTING -j MASQUERADE', r.appends.get('POSTROUTING')![0]!.line, ...chainLines, 'COMMIT', ''].join('\n');
  const state = { save: good, restored: [] as string[] };
  const applier = new IptablesApplier({ runner: fakeRunner(state) });
  assert.equal(await applier.plan(def), '');
  assert.deepEqual(await applier.apply(def), { changed: false, input: '', backend: 'nft' });
  // The POSTROUTING jump is no longer last: delete it by number and append it again.
  state.save = good.replace('-A POSTROUTING -j MASQUERADE\n', '').replace('COMMIT', '-A POSTROUTING -j MASQUERADE\nCOMMIT');
  const plan = await applier.plan(def);
  assert.match(plan, /^-D POSTROUTING 1$/m);
  assert.match(plan, /^-A POSTROUTING -m comment --comment "cali:0i8pjzKKPyA34aQD" --jump cali-POSTROUTING$/m);
  assert.doesNotMatch(plan, /^:cali-/m);
  // A stale cali- chain is flushed and deleted.
  state.save = good.replace('COMMIT', ':cali-old - [0:0]\nCOMMIT');
  assert.match(await applier.plan(def), /^:cali-old - -$[\s\S]*^-X cali-old$/m);
});
