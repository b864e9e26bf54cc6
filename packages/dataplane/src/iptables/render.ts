/**
 * iptables rules in Felix's form: rule hashes (`cali:` comments, reference §10.2) and
 * `iptables-restore` rendering. Pure.
 */
import { createHash } from 'node:crypto';
import { invalid } from '../validate.js';

/** Tables Calico writes. */
export type IptablesTableName = 'filter' | 'nat' | 'mangle' | 'raw';

/**
 * One rule in Felix's long-option syntax. `match` and `action` are already-rendered fragments
 * (`-m set --match-set cali40masq-ipam-pools src`, `--jump MASQUERADE --random-fully`); `comments`
 * become extra `-m comment --comment "..."` fragments before the match.
 */
export interface IptablesRule {
  match?: string;
  action?: string;
  comments?: string[];
}

/** A Calico-owned chain: its whole content is owned (flushed and rewritten when it differs). */
export interface IptablesChain {
  name: string;
  rules: IptablesRule[];
}

/**
 * Everything Calico wants in one table: its own chains plus rules inserted at the top of / appended
 * to chains it does not own (`FORWARD`, `POSTROUTING`...).
 */
export interface IptablesTable {
  table: IptablesTableName;
  chains: IptablesChain[];
  /** Rules inserted at the top of non-Calico chains (hashed under the chain's own name). */
  inserts?: Record<string, IptablesRule[]>;
  /** Rules appended to non-Calico chains (hashed under `<chain>*appends*`). */
  appends?: Record<string, IptablesRule[]>;
}

/** Length of the hash in a `cali:` comment. */
export const RULE_HASH_LENGTH = 16;
/** Prefix of Calico's rule comments. */
export const RULE_HASH_PREFIX = 'cali:';

function quote(text: string): string {
  if (text.includes('"') || text.includes('\n')) invalid('comment', text, 'comments may not contain double quotes or newlines');
  return `"${text}"`;
}

/** The part of a rule after the chain name and hash: comments, match, action (empty parts skipped). */
export function renderRuleBody(rule: IptablesRule): string {
  const parts: string[] = [];
  for (const c of rule.comments ?? []) parts.push(`-m comment --comment ${quote(c)}`);
  if (rule.match) parts.push(rule.match);
  if (rule.action) parts.push(rule.action);
  return parts.join(' ');
}

/**
 * Felix's rule hashes for one chain: `h = SHA-224(hashName)`, then for each rule
 * `h = SHA-224(h ‖ "-A <hashName> HASH <body>")`; the hash is the first 16 characters of unpadded
 * URL-safe base64 of `h`. Every hash depends on the rules before it.
 */
export function ruleHashes(hashName: string, rules: readonly IptablesRule[]): string[] {
  let h = createHash('sha224').update(hashName).digest();
  return rules.map((rule) => {
    const body = renderRuleBody(rule);
    h = createHash('sha224').update(h).update(`-A ${hashName} HASH${body ? ` ${body}` : ''}`).digest();
    return h.toString('base64url').slice(0, RULE_HASH_LENGTH);
  });
}

/** One rule line: `<op> <chain> -m comment --comment "cali:<hash>" <body>`. */
export function renderRuleLine(op: '-A' | '-I', chain: string, hash: string, rule: IptablesRule): string {
  const body = renderRuleBody(rule);
  return `${op} ${chain} -m comment --comment "${RULE_HASH_PREFIX}${hash}"${body ? ` ${body}` : ''}`;
}

/** A rendered rule with its hash, as placed in a chain. */
export interface RenderedRule {
  chain: string;
  hash: string;
  line: string;
}

/** Hashes and lines of a table's content, grouped the way the applier needs them. */
export interface RenderedTable {
  table: IptablesTableName;
  /** Calico chains: name → rendered rules (`-A` lines). */
  chains: Map<string, RenderedRule[]>;
  /** Non-Calico chains: name → inserted rules in final order (`-I` lines; inserted in reverse). */
  inserts: Map<string, RenderedRule[]>;
  /** Non-Calico chains: name → appended rules (`-A` lines). */
  appends: Map<string, RenderedRule[]>;
}

const CHAIN_NAME = /^[A-Za-z0-9_.*+-]{1,28}$/;

/** Computes every hash and line of a table. @throws ValidationError for bad chain names / duplicates. */
export function renderTableRules(def: IptablesTable): RenderedTable {
  const out: RenderedTable = { table: def.table, chains: new Map(), inserts: new Map(), appends: new Map() };
  for (const chain of def.chains) {
    if (!CHAIN_NAME.test(chain.name)) invalid('chain', chain.name, 'chain names are 1-28 characters [A-Za-z0-9_.+-]');
    if (out.chains.has(chain.name)) invalid('chain', chain.name, 'duplicate chain');
    const hashes = ruleHashes(chain.name, chain.rules);
    out.chains.set(chain.name, chain.rules.map((r, i) => ({ chain: chain.name, hash: hashes[i]!, line: renderRuleLine('-A', chain.name, hashes[i]!, r) })));
  }
  for (const [name, rules] of Object.entries(def.inserts ?? {})) {
    if (!CHAIN_NAME.test(name)) invalid('inserts', name, 'bad chain name');
    const hashes = ruleHashes(name, rules);
    out.inserts.set(name, rules.map((r, i) => ({ chain: name, hash: hashes[i]!, line: renderRuleLine('-I', name, hashes[i]!, r) })));
  }
  for (const [name, rules] of Object.entries(def.appends ?? {})) {
    if (!CHAIN_NAME.test(name)) invalid('appends', name, 'bad chain name');
    const hashes = ruleHashes(`${name}*appends*`, rules);
    out.appends.set(name, rules.map((r, i) => ({ chain: name, hash: hashes[i]!, line: renderRuleLine('-A', name, hashes[i]!, r) })));
  }
  return out;
}

/**
 * Full `iptables-restore --noflush` input for a table on an empty starting point: chain declarations
 * (sorted), their rules (in definition order), the inserts and the appends, then `COMMIT`. This is the form shown in the
 * reference (§10.3); {@link IptablesApplier} renders only the differences against the live state.
 */
export function renderRestore(def: IptablesTable): string {
  const r = renderTableRules(def);
  const lines = [`*${def.table}`];
  for (const name of [...r.chains.keys()].sort()) lines.push(`:${name} - -`);
  for (const rules of r.chains.values()) for (const rule of rules) lines.push(rule.line);
  for (const rules of r.inserts.values()) for (const rule of [...rules].reverse()) lines.push(rule.line);
  for (const rules of r.appends.values()) for (const rule of rules) lines.push(rule.line);
  lines.push('COMMIT');
  return `${lines.join('\n')}\n`;
}
