/**
 * `create`, `apply`, `replace`, `delete` and `get`: calicoctl's resource commands, with its
 * result accounting (`Successfully created 1 'IPPool' resource(s)`, partial success, `Hit error`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CalicoError,
  KINDS,
  ResourceExistsError,
  ResourceNotFoundError,
  ValidationError,
  dumpManifests,
  loadManifests,
  type Resource,
  type ResourceKind,
} from '@libcalico-ts/api';
import type { Client, ResourceClient } from '@libcalico-ts/client';
import { flag, flagSet, parseArgs, type FlagSpec, type ParsedArgs } from '../args.js';
import { connect, type Connection } from '../connect.js';
import { formatTabTable } from '../format.js';
import { CommandError, type CliIO } from '../io.js';
import { cliKind, lookupKind, tableRows, type ColumnContext } from '../kinds.js';

const COMMON: FlagSpec[] = [
  { name: 'config', short: 'c' },
  { name: 'namespace', short: 'n' },
  { name: 'context' },
  { name: 'allow-version-mismatch', type: 'boolean' },
];
const FILE: FlagSpec[] = [
  { name: 'filename', short: 'f' },
  { name: 'recursive', short: 'R', type: 'boolean' },
  { name: 'skip-empty', type: 'boolean' },
];

type Action = 'create' | 'apply' | 'replace' | 'delete';
const PAST: Record<Action, string> = { create: 'created', apply: 'applied', replace: 'replaced', delete: 'deleted' };

/** Go's `%v` of a slice of errors. */
function errorList(errors: readonly unknown[]): string {
  return `[${errors.map(messageOf).join(' ')}]`;
}

/** The message of an error as calicoctl users see it. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function manifestFiles(path: string, recursive: boolean): string[] {
  if (!statSync(path).isDirectory()) return [path];
  const out: string[] = [];
  for (const entry of readdirSync(path).sort()) {
    const full = join(path, entry);
    if (statSync(full).isDirectory()) {
      if (recursive) out.push(...manifestFiles(full, true));
    } else if (/\.(ya?ml|json)$/.test(entry)) out.push(full);
  }
  return out;
}

/** Reads and parses `-f`: a file, a directory of .yaml/.yml/.json files, or `-` (stdin). */
async function loadFileResources(parsed: ParsedArgs, io: CliIO, namespace: string | undefined): Promise<Resource[]> {
  const filename = flag(parsed, 'filename')!;
  const skipEmpty = flagSet(parsed, 'skip-empty');
  const sources: { name: string; text: string }[] = [];
  try {
    if (filename === '-') sources.push({ name: 'stdin', text: await io.readStdin() });
    else {
      if (!existsSync(filename)) throw new Error(`open ${filename}: no such file or directory`);
      for (const f of manifestFiles(filename, flagSet(parsed, 'recursive'))) sources.push({ name: f, text: readFileSync(f, 'utf8') });
    }
  } catch (error) {
    throw new CommandError(`Failed to execute command: ${messageOf(error)}`);
  }
  const resources: Resource[] = [];
  for (const source of sources) {
    let loaded: Resource[];
    try {
      loaded = loadManifests(source.text, namespace ? { defaultNamespace: namespace } : {});
    } catch (error) {
      throw new CommandError(`Failed to execute command: ${messageOf(error)}`);
    }
    if (loaded.length === 0 && !skipEmpty) throw new CommandError(`Failed to execute command: no resources specified in file ${source.name}`);
    resources.push(...loaded);
  }
  if (resources.length === 0 && !skipEmpty) {
    throw new CommandError(`Failed to execute command: no resources specified in directory ${filename}`);
  }
  return resources;
}

/** calicoctl's namespace rules for one resource (`-n` vs metadata.namespace). */
function checkNamespace(resource: Resource, cliNamespace: string | undefined, allNamespaces: boolean): void {
  const kind = resource.kind as ResourceKind;
  const meta = resource.metadata as { namespace?: string };
  if (KINDS[kind]?.namespaced) {
    if (allNamespaces && cliNamespace) throw new Error('cannot use both --namespace and --all-namespaces flags at the same time');
    if (!meta.namespace && cliNamespace) meta.namespace = cliNamespace;
    else if (meta.namespace && allNamespaces) delete meta.namespace;
    else if (!meta.namespace && !allNamespaces) meta.namespace = 'default';
    else if (meta.namespace && cliNamespace && meta.namespace !== cliNamespace) {
      throw new Error(`resource namespace does not match client namespace. ${meta.namespace} != ${cliNamespace}`);
    }
  } else if (meta.namespace) {
    throw new Error(`namespace should not be specified for a non-namespaced resource. ${kind} is not a namespaced resource`);
  } else if (allNamespaces || cliNamespace) {
    throw new Error(`${kind} is not namespaced`);
  }
}

function store(client: Client, kind: string): ResourceClient<ResourceKind> {
  return client.resources(kind as ResourceKind) as ResourceClient<ResourceKind>;
}

/** calicoctl `replace`: the stored metadata is kept, except labels and annotations from the file. */
async function replaceResource(s: ResourceClient<ResourceKind>, resource: Resource, dryRun: boolean): Promise<Resource> {
  const meta = resource.metadata as Record<string, unknown>;
  const current = (await s.get(meta.name as string, meta.namespace ? { namespace: meta.namespace as string } : {})) as Resource;
  const currentMeta = current.metadata as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...currentMeta };
  if (meta.resourceVersion) merged.resourceVersion = meta.resourceVersion;
  if (meta.labels !== undefined) merged.labels = meta.labels;
  else delete merged.labels;
  if (meta.annotations !== undefined) merged.annotations = meta.annotations;
  else delete merged.annotations;
  const next = { ...resource, metadata: merged } as Resource;
  return (await s.update(next as never, { dryRun })) as Resource;
}

async function runAction(client: Client, action: Action, resource: Resource, dryRun: boolean, parsed: ParsedArgs): Promise<Resource> {
  const s = store(client, resource.kind);
  const meta = resource.metadata as { name?: string; namespace?: string };
  switch (action) {
    case 'create':
      try {
        return (await s.create(resource as never, { dryRun })) as Resource;
      } catch (error) {
        if (!dryRun && flagSet(parsed, 'skip-exists') && ResourceExistsError.isInstance(error)) return resource;
        throw error;
      }
    case 'apply':
      return (await s.apply(resource as never, { dryRun })) as Resource;
    case 'replace':
      return replaceResource(s, resource, dryRun);
    case 'delete':
      try {
        return (await s.delete(meta.name ?? '', meta.namespace ? { namespace: meta.namespace } : {})) as Resource;
      } catch (error) {
        if (flagSet(parsed, 'skip-not-exists') && ResourceNotFoundError.isInstance(error)) return resource;
        throw error;
      }
  }
}

/** Resources named on the command line: `KIND NAME...` (delete and get). */
function resourcesFromArgs(positionals: readonly string[], namespace: string | undefined): { kind: ResourceKind; resources: Resource[] } {
  const [kindText, ...names] = positionals;
  if (!kindText) throw new CommandError('Failed to execute command: no resources specified');
  const k = lookupKind(kindText);
  if (!k) throw new CommandError(`Failed to get resources: resource type '${kindText}' is not supported`);
  if (names.some((n) => n === '')) throw new CommandError('resource name may not be empty');
  const resources = names.map((n) => {
    const metadata: Record<string, string> = { name: n };
    if (namespace && KINDS[k.kind].namespaced) metadata.namespace = namespace;
    return { apiVersion: 'projectcalico.org/v3', kind: k.kind, metadata, spec: {} } as unknown as Resource;
  });
  return { kind: k.kind, resources };
}

async function withConnection<T>(parsed: ParsedArgs, io: CliIO, body: (connection: Connection) => Promise<T>): Promise<T> {
  let connection: Connection;
  try {
    connection = await connect({ configPath: flag(parsed, 'config'), env: io.env });
  } catch (error) {
    throw new CommandError(`Failed to create Calico API client: ${messageOf(error)}`, { toStdout: true });
  }
  try {
    return await body(connection);
  } finally {
    await connection.finish();
  }
}

/** `calicoctl create|apply|replace|delete`. Returns the exit code. */
export async function resourceCommand(action: Action, argv: readonly string[], io: CliIO): Promise<number> {
  const specs = [...COMMON, ...FILE];
  if (action === 'create') specs.push({ name: 'skip-exists', type: 'boolean' });
  if (action === 'delete') specs.push({ name: 'skip-not-exists', type: 'boolean' });
  const parsed = parseArgs(argv, specs);
  const namespace = flag(parsed, 'namespace');
  let resources: Resource[];
  let singleKind: string | undefined;
  if (flag(parsed, 'filename') !== undefined) {
    if (parsed.positionals.length > 0) throw new CommandError(`Invalid option: unexpected arguments ${parsed.positionals.join(' ')} with --filename`);
    resources = await loadFileResources(parsed, io, namespace);
    if (resources.length === 0) return 0;
    const kinds = new Set(resources.map((r) => r.kind));
    if (kinds.size === 1) singleKind = resources[0]!.kind;
  } else {
    if (action !== 'delete') throw new CommandError(`Invalid option: 'calicoctl ${[action, ...argv].join(' ')}'. Use flag '--help' to read about a specific subcommand.`);
    const fromArgs = resourcesFromArgs(parsed.positionals, namespace);
    if (fromArgs.resources.length === 0) throw new CommandError('Failed to execute command: no resources specified');
    resources = fromArgs.resources;
    singleKind = fromArgs.kind;
  }

  return withConnection(parsed, io, async ({ client }) => {
    // Namespace rules first: a violation is an error of that resource, as in calicoctl.
    const namespaceErrors = new Map<Resource, Error>();
    for (const r of resources) {
      try {
        checkNamespace(r, namespace, false);
      } catch (error) {
        namespaceErrors.set(r, error as Error);
      }
    }
    // All-or-nothing validation (beyond calicoctl, which validates one resource at a time): a
    // dry run of every write first, so an invalid resource anywhere in the file writes nothing.
    if (action !== 'delete') {
      const problems: string[] = [];
      for (const r of resources) {
        if (namespaceErrors.has(r)) continue;
        try {
          await runAction(client, action, r, true, parsed);
        } catch (error) {
          if (ValidationError.isInstance(error)) problems.push(messageOf(error));
        }
      }
      if (problems.length > 0) throw new CommandError(`Failed to execute command: ${problems.join('; ')}`);
      await client.ensureInitialized().catch(() => undefined);
    }
    const errors: unknown[] = [];
    let handled = 0;
    for (const r of resources) {
      const nsError = namespaceErrors.get(r);
      if (nsError) {
        errors.push(nsError);
        continue;
      }
      try {
        await runAction(client, action, r, false, parsed);
        handled++;
      } catch (error) {
        if (!CalicoError.isInstance(error)) throw error;
        errors.push(error);
        if (action === 'replace') break; // calicoctl stops at the first failed replace
      }
    }
    return report(action, io, { total: resources.length, handled, errors, singleKind });
  });
}

function report(action: Action, io: CliIO, r: { total: number; handled: number; errors: unknown[]; singleKind: string | undefined }): number {
  const past = PAST[action];
  const kindText = r.singleKind ? ` '${r.singleKind}'` : '';
  if (action === 'delete') {
    if (r.handled > 0) io.stdout(`Successfully deleted ${r.handled}${kindText} resource(s)\n`);
    if (r.errors.length > 0) {
      let text = '';
      for (const e of r.errors) text += r.singleKind ? `Failed to delete '${r.singleKind}' resource: ${messageOf(e)}\n` : `Failed to delete resource: ${messageOf(e)}\n`;
      throw new CommandError(text.replace(/\n$/, ''));
    }
    return 0;
  }
  if (r.handled === 0) {
    const which = r.total === 1 ? `${kindText} resource` : r.singleKind ? ` any${kindText} resources` : ' any resources';
    throw new CommandError(`Failed to ${action}${which}: ${action === 'replace' ? messageOf(r.errors[0]) : errorList(r.errors)}`);
  }
  if (r.errors.length === 0) {
    io.stdout(`Successfully ${past} ${r.handled}${kindText} resource(s)\n`);
    return 0;
  }
  if (action === 'replace' || r.handled - r.errors.length > 0) {
    io.stdout(`Partial success: ${past} the first ${r.handled} out of ${r.total}${kindText} resources:\n`);
  }
  const label = action === 'apply' ? 'Hit error(s)' : 'Hit error';
  throw new CommandError(`${label}: ${action === 'replace' ? messageOf(r.errors[0]) : errorList(r.errors)}`);
}

// ---------------------------------------------------------------------------------------------
// get

/** The default AS number shown for nodes without their own (`(64512)`), read once. */
function asNumberContext(client: Client): ColumnContext {
  let cached: string | undefined;
  let pending: Promise<void> | undefined;
  return {
    defaultASNumber: () => cached ?? 'unknown',
    // Resolved before formatting by prepareContext.
    ...{ prepare: async () => {
      if (cached !== undefined) return;
      pending ??= (async () => {
        try {
          const config = await client.bgpConfigurations.get('default');
          const asn = (config.spec as { asNumber?: unknown } | undefined)?.asNumber;
          cached = asn !== undefined && asn !== null ? String(asn) : '64512';
        } catch (error) {
          cached = ResourceNotFoundError.isInstance(error) ? '64512' : 'unknown';
        }
      })();
      await pending;
    } },
  } as ColumnContext & { prepare: () => Promise<void> };
}

/** `calicoctl get`. */
export async function getCommand(argv: readonly string[], io: CliIO): Promise<number> {
  // calicoctl accepts -a as an alias of -A.
  const args = argv.map((a) => (a === '-a' ? '-A' : a));
  const parsed = parseArgs(args, [...COMMON, ...FILE, { name: 'output', short: 'o' }, { name: 'all-namespaces', short: 'A', type: 'boolean' }, { name: 'export', type: 'boolean' }]);
  const output = flag(parsed, 'output') ?? 'ps';
  const namespace = flag(parsed, 'namespace');
  const allNamespaces = flagSet(parsed, 'all-namespaces');
  let format: 'yaml' | 'json' | 'table';
  let wide = false;
  let headings: string[] | undefined;
  if (output === 'yaml' || output === 'yml') format = 'yaml';
  else if (output === 'json') format = 'json';
  else if (output === 'ps' || output === 'wide') {
    format = 'table';
    wide = output === 'wide';
  } else if (output.startsWith('custom-columns=')) {
    format = 'table';
    headings = output.slice('custom-columns='.length).split(',').filter(Boolean);
    if (headings.length === 0) throw new CommandError('need to specify at least one column');
  } else throw new CommandError(`unrecognized output format '${output}'`);
  const printNamespace = allNamespaces || namespace !== undefined;

  let requests: Resource[];
  let listKind: ResourceKind | undefined;
  if (flag(parsed, 'filename') !== undefined) requests = await loadFileResources(parsed, io, namespace);
  else {
    const { kind, resources } = resourcesFromArgs(parsed.positionals, namespace);
    requests = resources;
    if (resources.length === 0) listKind = kind;
  }

  return withConnection(parsed, io, async ({ client }) => {
    const context = asNumberContext(client) as ColumnContext & { prepare: () => Promise<void> };
    const printed: { kind: ResourceKind; items: Resource[]; list: boolean; resourceVersion?: string }[] = [];
    const errors: unknown[] = [];
    if (listKind) {
      const kindNamespaced = KINDS[listKind].namespaced;
      try {
        if (!kindNamespaced && (namespace || allNamespaces)) throw new Error(`${listKind} is not namespaced`);
        if (allNamespaces && namespace) throw new Error('cannot use both --namespace and --all-namespaces flags at the same time');
        const ns = kindNamespaced && !allNamespaces ? (namespace ?? 'default') : undefined;
        const list = await store(client, listKind).list(ns ? { namespace: ns } : {});
        printed.push({ kind: listKind, items: list.items as Resource[], list: true, resourceVersion: list.resourceVersion });
      } catch (error) {
        errors.push(error);
      }
    } else {
      for (const r of requests) {
        try {
          checkNamespace(r, namespace, allNamespaces);
          const meta = r.metadata as { name: string; namespace?: string };
          const got = (await store(client, r.kind).get(meta.name, meta.namespace ? { namespace: meta.namespace } : {})) as Resource;
          if (flagSet(parsed, 'export')) {
            const m = got.metadata as Record<string, unknown>;
            for (const f of ['namespace', 'uid', 'resourceVersion', 'creationTimestamp']) delete m[f];
          }
          printed.push({ kind: r.kind as ResourceKind, items: [got], list: false });
        } catch (error) {
          errors.push(error);
        }
      }
    }
    if (format === 'table') {
      await context.prepare();
      for (const p of printed) {
        const k = cliKind(p.kind)!;
        let rows: string[][];
        try {
          rows = tableRows(k, p.items, { wide, printNamespace, context, ...(headings ? { headings } : {}) });
        } catch (error) {
          throw new CommandError(messageOf(error));
        }
        io.stdout(formatTabTable(rows) + '\n');
      }
    } else if (printed.length > 0) {
      const lists = printed.filter((p) => p.list);
      if (lists.length === 1 && printed.length === 1) {
        const p = lists[0]!;
        io.stdout(dumpManifests(p.items, format, { list: 'always', ...(p.resourceVersion ? { resourceVersion: p.resourceVersion } : {}) }));
      } else {
        const items = printed.flatMap((p) => p.items);
        io.stdout(dumpManifests(items, format, { list: 'never' }));
      }
      if (format === 'json') io.stdout('\n');
    }
    if (errors.length > 0) throw new CommandError(errors.map(messageOf).join('\n'));
    return 0;
  });
}
