/**
 * Builders for Calico's iptables content (reference §10.3-10.4): the nat table (NAT-outgoing,
 * tunnel masquerade, top-level jumps) and the filter table's forward path with workload dispatch
 * and per-endpoint chains (no policies; Kubernetes-style profiles). Pure: they return
 * {@link IptablesTable} values for {@link renderRestore} / {@link IptablesApplier}.
 */
import { createHash } from 'node:crypto';
import { invalid, normalizeCidr, parseIP, validateInterfaceName } from '../validate.js';
import type { IptablesRule, IptablesTable } from './render.js';

/** Longest chain name Felix produces. */
export const MAX_CHAIN_NAME_LENGTH = 28;

/**
 * Felix's chain naming: `prefix + suffix` when it fits in 28 characters, otherwise
 * `prefix + "_" + URL-safe base64 of SHA-256(suffix)`, truncated to 28.
 * `chainName('cali-pri-', 'ksa.kube-system.coredns')` → `cali-pri-_u2Tn2rSoAPffvE7JO6`.
 */
export function chainName(prefix: string, suffix: string): string {
  const full = `${prefix}${suffix}`;
  if (full.length <= MAX_CHAIN_NAME_LENGTH) return full;
  return `${prefix}_${createHash('sha256').update(suffix).digest('base64url')}`.slice(0, MAX_CHAIN_NAME_LENGTH);
}

/** An IP pool as far as NAT-outgoing is concerned. */
export interface NatPool {
  cidr: string;
  natOutgoing?: boolean;
}

/** Options of {@link natTable}. */
export interface NatTableOptions {
  /** Every IPv4 pool (disabled ones included, as in the `all-ipam-pools` set). */
  pools: NatPool[];
  /**
   * How "source in a natOutgoing pool, destination not in any pool" is matched:
   * `ipset` (default) — Felix's rule over the ipsets `cali40masq-ipam-pools` /
   * `cali40all-ipam-pools` (the sets must be programmed separately, e.g. with `ipset restore`);
   * `cidr` — no ipsets: `--destination <pool> --jump RETURN` for every pool, then one
   * masquerade rule per natOutgoing pool (`--source <pool>`). Same packets are translated; the
   * hashes differ from Felix's.
   */
  match?: 'ipset' | 'cidr';
  /** ipset names (default Felix's v3.28-v3.33 names; master renamed `all` to `cali40network-ip-pools`). */
  ipsets?: { masq?: string; all?: string };
  /** Append `--random-fully` (default true: iptables >= 1.6.2). */
  randomFully?: boolean;
  /** `natOutgoingAddress`: SNAT to this address instead of MASQUERADE. */
  natOutgoingAddress?: string;
  /** `iptablesNATOutgoingInterfaceFilter`. */
  outInterface?: string;
  /** Tunnel devices with an address (`tunl0`, `vxlan.calico`): masquerade host-sourced traffic leaving them. */
  tunnelDevices?: string[];
  /** How the POSTROUTING jump is placed: `append` (v3.29+, default) or `insert` (≤ v3.28). */
  postrouting?: 'append' | 'insert';
}

/** Felix's nat table (reference §10.3). */
export function natTable(options: NatTableOptions): IptablesTable {
  if (!options || !Array.isArray(options.pools)) invalid('pools', options?.pools, 'must be an array');
  const pools = options.pools.map((p, i) => {
    const cidr = normalizeCidr(p.cidr, `pools[${i}].cidr`, { strict: true });
    if (cidr.includes(':')) invalid(`pools[${i}].cidr`, p.cidr, 'the IPv4 nat table takes IPv4 pools');
    return { cidr, natOutgoing: p.natOutgoing === true };
  });
  const random = options.randomFully ?? true ? ' --random-fully' : '';
  let action = `--jump MASQUERADE${random}`;
  if (options.natOutgoingAddress !== undefined) action = `--jump SNAT --to-source ${parseIP(options.natOutgoingAddress, 'natOutgoingAddress').text}${random}`;
  const outIf = options.outInterface !== undefined ? ` --out-interface ${validateInterfaceName(options.outInterface, 'outInterface')}` : '';
  const natRules: IptablesRule[] = [];
  if (pools.some((p) => p.natOutgoing)) {
    if ((options.match ?? 'ipset') === 'ipset') {
      const masq = options.ipsets?.masq ?? 'cali40masq-ipam-pools';
      const all = options.ipsets?.all ?? 'cali40all-ipam-pools';
      natRules.push({ match: `-m set --match-set ${masq} src -m set ! --match-set ${all} dst${outIf}`, action });
    } else {
      for (const p of pools) natRules.push({ match: `--destination ${p.cidr}`, action: '--jump RETURN' });
      for (const p of pools.filter((x) => x.natOutgoing)) natRules.push({ match: `--source ${p.cidr}${outIf}`, action });
    }
  }
  const postrouting: IptablesRule[] = [{ action: '--jump cali-fip-snat' }, { action: '--jump cali-nat-outgoing' }];
  for (const dev of options.tunnelDevices ?? []) {
    postrouting.push({
      match: `--out-interface ${validateInterfaceName(dev, 'tunnelDevices')} -m addrtype ! --src-type LOCAL --limit-iface-out -m addrtype --src-type LOCAL`,
      action: `--jump MASQUERADE${random}`,
    });
  }
  const jumpPost: IptablesRule = { action: '--jump cali-POSTROUTING' };
  return {
    table: 'nat',
    chains: [
      { name: 'cali-OUTPUT', rules: [{ action: '--jump cali-fip-dnat' }] },
      { name: 'cali-POSTROUTING', rules: postrouting },
      { name: 'cali-PREROUTING', rules: [{ action: '--jump cali-fip-dnat' }] },
      { name: 'cali-fip-dnat', rules: [] },
      { name: 'cali-fip-snat', rules: [] },
      { name: 'cali-nat-outgoing', rules: natRules },
    ],
    inserts:
      options.postrouting === 'insert'
        ? { OUTPUT: [{ action: '--jump cali-OUTPUT' }], PREROUTING: [{ action: '--jump cali-PREROUTING' }], POSTROUTING: [jumpPost] }
        : { OUTPUT: [{ action: '--jump cali-OUTPUT' }], PREROUTING: [{ action: '--jump cali-PREROUTING' }] },
    appends: options.postrouting === 'insert' ? {} : { POSTROUTING: [jumpPost] },
  };
}

/** A profile attached to workloads: `allowAll` (a `kns.*` profile) or no rules (a `ksa.*` profile). */
export interface WorkloadProfile {
  name: string;
  allowAll: boolean;
}

/** A local workload endpoint for the filter table. */
export interface FilterWorkload {
  /** Host-side interface, e.g. `cali573926084b2`. */
  interface: string;
  /** Profile names in order, e.g. `['kns.default', 'ksa.default.default']`. */
  profiles: string[];
  /** `allowVXLANPacketsFromWorkloads` / `allowIPIPPacketsFromWorkloads` (default false). */
  allowVxlanPackets?: boolean;
  allowIpipPackets?: boolean;
  /** Endpoint admin-disabled: chains hold a single DROP. */
  disabled?: boolean;
}

/** Options of {@link filterTable}. */
export interface FilterTableOptions {
  /** Workload interface prefixes (default `['cali']`). */
  interfacePrefixes?: string[];
  /** Mark-bit layout: `v3.30` (default; with the drop bit) or `v3.29`. */
  markLayout?: 'v3.29' | 'v3.30';
  /** Local workloads (dispatch entries and their chains). */
  workloads?: FilterWorkload[];
  /** Profiles referenced by the workloads; a missing one is treated as "no rules". */
  profiles?: WorkloadProfile[];
}

const ACCEPT_MARK = '0x10000/0x10000';

/**
 * Felix's filter-table forward path (reference §10.4): `cali-FORWARD`, the hep/cidr-block chains it
 * jumps to (empty here), flat workload dispatch chains (Felix groups them by name prefix once there
 * are many interfaces; this builder always emits the flat form), per-endpoint `cali-tw-`/`cali-fw-`
 * chains with profile jumps, profile chains, the `FORWARD` insert and the two `FORWARD` appends.
 */
export function filterTable(options: FilterTableOptions = {}): IptablesTable {
  const prefixes = (options.interfacePrefixes ?? ['cali']).map((p) => validateInterfaceName(`${p}+`, 'interfacePrefixes'));
  const clearMark = (options.markLayout ?? 'v3.30') === 'v3.30' ? '0/0x1a0000' : '0/0xe0000';
  const forward: IptablesRule[] = [
    { action: `--jump MARK --set-mark ${clearMark}` },
    { match: '-m mark --mark 0/0x10000', action: '--jump cali-from-hep-forward' },
  ];
  for (const p of prefixes) {
    forward.push({ match: `--in-interface ${p}`, action: '--jump cali-from-wl-dispatch' });
    forward.push({ match: `--out-interface ${p}`, action: '--jump cali-to-wl-dispatch' });
  }
  forward.push({ action: '--jump cali-to-hep-forward' }, { action: '--jump cali-cidr-block' });
  const workloads = [...(options.workloads ?? [])].map((w, i) => ({ ...w, interface: validateInterfaceName(w.interface, `workloads[${i}].interface`) }));
  workloads.sort((a, b) => (a.interface < b.interface ? -1 : a.interface > b.interface ? 1 : 0));
  const drop: IptablesRule = { comments: ['Unknown interface'], action: '--jump DROP' };
  const fromDispatch: IptablesRule[] = workloads.map((w) => ({ match: `--in-interface ${w.interface}`, action: `--goto ${chainName('cali-fw-', w.interface)}` }));
  const toDispatch: IptablesRule[] = workloads.map((w) => ({ match: `--out-interface ${w.interface}`, action: `--goto ${chainName('cali-tw-', w.interface)}` }));
  const chains = [
    { name: 'cali-FORWARD', rules: forward },
    { name: 'cali-from-hep-forward', rules: [] as IptablesRule[] },
    { name: 'cali-to-hep-forward', rules: [] as IptablesRule[] },
    { name: 'cali-cidr-block', rules: [] as IptablesRule[] },
    { name: 'cali-from-wl-dispatch', rules: [...fromDispatch, drop] },
    { name: 'cali-to-wl-dispatch', rules: [...toDispatch, drop] },
  ];
  const profileDefs = new Map((options.profiles ?? []).map((p) => [p.name, p]));
  const usedProfiles: string[] = [];
  for (const w of workloads) {
    for (const dir of ['tw', 'fw'] as const) {
      const rules: IptablesRule[] = [];
      if (w.disabled) rules.push({ comments: ['Endpoint admin disabled'], action: '--jump DROP' });
      else {
        rules.push({ match: '-m conntrack --ctstate RELATED,ESTABLISHED', action: '--jump ACCEPT' });
        rules.push({ match: '-m conntrack --ctstate INVALID', action: '--jump DROP' });
        rules.push({ action: '--jump MARK --set-mark 0/0x30000' });
        if (dir === 'fw') {
          if (!w.allowVxlanPackets) rules.push({ comments: ['Drop VXLAN encapped packets originating in workloads'], match: '-p 17 -m multiport --destination-ports 4789', action: '--jump DROP' });
          if (!w.allowIpipPackets) rules.push({ comments: ['Drop IPinIP encapped packets originating in workloads'], match: '-p 4', action: '--jump DROP' });
        }
        for (const profile of w.profiles) {
          rules.push({ action: `--jump ${chainName(dir === 'tw' ? 'cali-pri-' : 'cali-pro-', profile)}` });
          rules.push({ comments: ['Return if profile accepted'], match: `-m mark --mark ${ACCEPT_MARK}`, action: '--jump RETURN' });
          if (!usedProfiles.includes(profile)) usedProfiles.push(profile);
        }
        rules.push({ comments: ['Drop if no profiles matched'], action: '--jump DROP' });
      }
      chains.push({ name: chainName(`cali-${dir}-`, w.interface), rules });
    }
  }
  for (const profile of usedProfiles) {
    const allow = profileDefs.get(profile)?.allowAll ?? false;
    for (const [prefix, word] of [['cali-pri-', 'ingress'], ['cali-pro-', 'egress']] as const) {
      const comment = `Profile ${profile} ${word}`;
      chains.push({ name: chainName(prefix, profile), rules: [allow ? { comments: [comment], action: `--jump MARK --set-mark ${ACCEPT_MARK}` } : { comments: [comment] }] });
    }
  }
  return {
    table: 'filter',
    chains,
    inserts: { FORWARD: [{ action: '--jump cali-FORWARD' }] },
    appends: {
      FORWARD: [
        { comments: ['Policy explicitly accepted packet.'], match: `-m mark --mark ${ACCEPT_MARK}`, action: '--jump ACCEPT' },
        { action: `--jump MARK --set-mark ${ACCEPT_MARK}` },
      ],
    },
  };
}
