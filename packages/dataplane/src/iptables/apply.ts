/**
 * Applying Calico's iptables content atomically with `iptables-restore --noflush`, idempotently and
 * verified by reading back `iptables-save`.
 */
import { CalicoError } from '@libcalico-ts/api';
import { defaultCommandRunner, runChecked, type CommandRunner } from '../command.js';
import { CommandError } from '../errors.js';
import { requireNetns } from '../netns.js';
import { RULE_HASH_LENGTH, renderTableRules, type IptablesTable, type IptablesTableName } from './render.js';

/** iptables backend. */
export type IptablesBackend = 'nft' | 'legacy';

/** One chain as read from `iptables-save`. */
export interface SavedChain {
  name: string;
  /** Policy for built-in chains (`ACCEPT`...), `-` for user chains. */
  policy: string;
  /** Rules as printed (without the leading `-A <chain> `). */
  rules: { text: string; hash: string | null }[];
}

const HASH_RE = new RegExp(`--comment "?cali:([A-Za-z0-9_-]{${RULE_HASH_LENGTH}})"?`);

/** Parses `iptables-save` output into tables → chains (in order). */
export function parseIptablesSave(text: string): Map<string, Map<string, SavedChain>> {
  const tables = new Map<string, Map<string, SavedChain>>();
  let current: Map<string, SavedChain> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      current = new Map();
      tables.set(line.slice(1), current);
    } else if (line === 'COMMIT') {
      current = null;
    } else if (current && line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(/\s+/);
      current.set(name!, { name: name!, policy: policy ?? '-', rules: [] });
    } else if (current && line.startsWith('-A ')) {
      const rest = line.slice(3);
      const space = rest.indexOf(' ');
      const chain = space < 0 ? rest : rest.slice(0, space);
      const body = space < 0 ? '' : rest.slice(space + 1);
      let entry = current.get(chain);
      if (!entry) {
        entry = { name: chain, policy: '-', rules: [] };
        current.set(chain, entry);
      }
      entry.rules.push({ text: body, hash: HASH_RE.exec(body)?.[1] ?? null });
    }
  }
  return tables;
}

/** Options of {@link IptablesApplier}. */
export interface IptablesApplierOptions {
  /** Runs the commands (default: real processes). */
  runner?: CommandRunner;
  /** Run inside this network namespace (name or path) via `nsenter --net=`. */
  netns?: string;
  /** 4 (iptables, default) or 6 (ip6tables). */
  family?: 4 | 6;
  /** Backend; `auto` (default) asks `iptables -V`. */
  backend?: IptablesBackend | 'auto';
  /** Remove `cali-*` chains of the table that are no longer wanted (default true). */
  deleteStaleChains?: boolean;
}

/** Result of {@link IptablesApplier.apply}. */
export interface IptablesApplyResult {
  /** False when the live state already matched (nothing was run). */
  changed: boolean;
  /** The `iptables-restore --noflush` input used (empty when unchanged). */
  input: string;
  backend: IptablesBackend;
}

/**
 * Programs {@link IptablesTable} content. `plan()` compares the desired rules with `iptables-save`
 * by their `cali:` hashes and renders only what differs: Calico chains that differ are re-declared
 * (which flushes them) and refilled; Calico rules in non-Calico chains (`FORWARD`...) are
 * deleted by number and re-inserted/appended when their sequence or position differs; stale `cali-`
 * chains are flushed and deleted. `apply()` feeds that to `iptables-restore --noflush` (one atomic
 * transaction) and then re-reads the table: anything still differing is a CalicoError.
 *
 * @example
 * ```ts
 * const applier = new IptablesApplier({ netns: 'node1' });
 * await applier.apply(natTable({ pools: [{ cidr: '10.244.0.0/16', natOutgoing: true }], match: 'cidr' }));
 * ```
 */
export class IptablesApplier {
  private readonly runner: CommandRunner;
  private readonly prefix: string[];
  private readonly family: 4 | 6;
  private readonly deleteStale: boolean;
  private backend: IptablesBackend | null;

  constructor(options: IptablesApplierOptions = {}) {
    this.runner = options.runner ?? defaultCommandRunner;
    this.prefix = options.netns !== undefined ? ['nsenter', `--net=${requireNetns(options.netns)}`, '--'] : [];
    this.family = options.family ?? 4;
    this.deleteStale = options.deleteStaleChains ?? true;
    this.backend = options.backend === undefined || options.backend === 'auto' ? null : options.backend;
  }

  private get base(): string {
    return this.family === 4 ? 'iptables' : 'ip6tables';
  }

  /** The backend in use: `nft` when `iptables -V` says `(nf_tables)`, else `legacy`. */
  async detectBackend(): Promise<IptablesBackend> {
    if (this.backend) return this.backend;
    const out = await runChecked(this.runner, [...this.prefix, this.base, '-V']);
    this.backend = out.includes('nf_tables') ? 'nft' : 'legacy';
    return this.backend;
  }

  private async binary(kind: 'restore' | 'save'): Promise<string> {
    return `${this.base}-${await this.detectBackend()}-${kind}`;
  }

  /** `iptables-save -t <table>` output. */
  async save(table: IptablesTableName): Promise<string> {
    return runChecked(this.runner, [...this.prefix, await this.binary('save'), '-t', table]);
  }

  /** The restore input needed to reach `def` from the live state ('' when nothing differs). */
  async plan(def: IptablesTable): Promise<string> {
    const rendered = renderTableRules(def);
    const live = parseIptablesSave(await this.save(def.table)).get(def.table) ?? new Map<string, SavedChain>();
    const declare: string[] = [];
    const deletes: string[] = [];
    const rules: string[] = [];
    const tail: string[] = [];
    const sameHashes = (have: (string | null)[], want: string[]) => have.length === want.length && have.every((h, i) => h === want[i]);
    for (const [name, want] of rendered.chains) {
      const have = live.get(name);
      if (have && sameHashes(have.rules.map((r) => r.hash), want.map((r) => r.hash))) continue;
      declare.push(`:${name} - -`);
      for (const r of want) rules.push(r.line);
    }
    const touched = new Set([...rendered.inserts.keys(), ...rendered.appends.keys()]);
    for (const name of touched) {
      const ins = rendered.inserts.get(name) ?? [];
      const app = rendered.appends.get(name) ?? [];
      const have = live.get(name)?.rules ?? [];
      const ours = have.map((r, i) => ({ hash: r.hash, number: i + 1 })).filter((r) => r.hash !== null);
      const head = have.slice(0, ins.length).map((r) => r.hash);
      const end = have.slice(have.length - app.length).map((r) => r.hash);
      const ok =
        ours.length === ins.length + app.length &&
        sameHashes(head, ins.map((r) => r.hash)) &&
        (app.length === 0 || (have.length >= ins.length + app.length && sameHashes(end, app.map((r) => r.hash))));
      if (ok) continue;
      for (const r of [...ours].reverse()) deletes.push(`-D ${name} ${r.number}`);
      for (const r of [...ins].reverse()) rules.push(r.line);
      for (const r of app) rules.push(r.line);
    }
    if (this.deleteStale) {
      for (const [name, chain] of live) {
        if (!name.startsWith('cali-') || rendered.chains.has(name) || chain.policy !== '-') continue;
        declare.push(`:${name} - -`);
        tail.push(`-X ${name}`);
      }
    }
    if (declare.length + deletes.length + rules.length + tail.length === 0) return '';
    return `${[`*${def.table}`, ...declare, ...deletes, ...rules, ...tail, 'COMMIT'].join('\n')}\n`;
  }

  /**
   * Brings the table to `def` in one `iptables-restore --noflush` transaction and verifies it.
   * @throws CommandError when iptables-restore rejects the input (nothing is changed then);
   * CalicoError when the read-back still differs.
   */
  async apply(def: IptablesTable): Promise<IptablesApplyResult> {
    const backend = await this.detectBackend();
    const input = await this.plan(def);
    if (input === '') return { changed: false, input: '', backend };
    const command = [...this.prefix, await this.binary('restore'), '--noflush'];
    const result = await this.runner.run(command, { input });
    if (result.exitCode !== 0) {
      throw new CommandError(command, result.exitCode, result.stderr, { message: `iptables-restore rejected the ${def.table} table update: ${result.stderr.trim()}\n--- input ---\n${input}` });
    }
    const left = await this.plan(def);
    if (left !== '') throw new CalicoError(`iptables ${def.table} table does not match after iptables-restore; still needed:\n${left}`);
    return { changed: true, input, backend };
  }

  /** Throws a CalicoError describing the difference when the live table differs from `def`. */
  async verify(def: IptablesTable): Promise<void> {
    const left = await this.plan(def);
    if (left !== '') throw new CalicoError(`iptables ${def.table} table differs from the desired state:\n${left}`);
  }
}
