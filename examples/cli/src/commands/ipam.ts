/**
 * `calicoctl ipam show|check|release|configure`, and our pinning extensions
 * `ipam pin|unpin|owner`.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ResourceNotFoundError, type Node, type WorkloadEndpoint } from '@libcalico-ts/api';
import type { AddressOwner, Client } from '@libcalico-ts/client';
import type { IPAMCheckReport } from '@libcalico-ts/ipam';
import { isIP, parseIP } from '@libcalico-ts/net';
import { flag, flagSet, parseArgs, UsageError, type ParsedArgs } from '../args.js';
import { connect, type Connection } from '../connect.js';
import { renderUtilizationHtml } from '../html.js';
import { CommandError, type CliIO } from '../io.js';
import { formatIpamConfiguration, formatIpamShow, formatIpamShowIP } from '../ipam-format.js';
import { CLI_VERSION } from '../version.js';
import { messageOf } from './resources.js';

async function withClient<T>(parsed: ParsedArgs, io: CliIO, body: (connection: Connection) => Promise<T>): Promise<T> {
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

/** calicoctl's ValidateIP: prints to stdout and exits 1 for anything but an address. */
function validateIP(text: string): string {
  if (!isIP(text)) throw new CommandError(`Error executing command: invalid IP address specified: ${text}`, { toStdout: true });
  return parseIP(text).toString();
}

const CONFIG_FLAGS = [{ name: 'config', short: 'c' }, { name: 'allow-version-mismatch', type: 'boolean' as const }, { name: 'context' }];

/** The stored blocks' owners by CIDR, for the HTML page. */
async function blockOwners(client: Client): Promise<Map<string, string | null>> {
  const owners = new Map<string, string | null>();
  for (const kv of (await client.datastore.listKV({ type: 'block' })).items) {
    const affinity = kv.value.affinity ?? null;
    owners.set(kv.key.cidr, affinity && affinity.startsWith('host:') ? affinity.slice(5) : affinity);
  }
  return owners;
}

/** Writes a file through a temporary name and a rename. */
function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function show(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'ip' }, { name: 'show-blocks', type: 'boolean' }, { name: 'show-borrowed', type: 'boolean' }, { name: 'show-configuration', type: 'boolean' }, { name: 'html' }]);
  const ipText = flag(parsed, 'ip');
  const ip = ipText !== undefined ? validateIP(ipText) : undefined;
  return withClient(parsed, io, async ({ client, datastoreType }) => {
    const html = flag(parsed, 'html');
    if (html !== undefined) {
      const usage = await client.ipam.getUtilization();
      writeFileAtomic(html, renderUtilizationHtml({ usage, owners: await blockOwners(client), subtitle: `datastore: ${datastoreType}` }));
    }
    if (ip !== undefined) {
      try {
        io.stdout(formatIpamShowIP(ip, await client.ipam.getAssignmentAttributes(ip)));
      } catch (error) {
        if (!ResourceNotFoundError.isInstance(error)) throw error;
        io.stdout(formatIpamShowIP(ip, null));
      }
      return 0;
    }
    if (flagSet(parsed, 'show-blocks')) {
      io.stdout(formatIpamShow(await client.ipam.getUtilization(), true));
      return 0;
    }
    if (flagSet(parsed, 'show-borrowed')) {
      io.stdout(await showBorrowed(client));
      return 0;
    }
    if (flagSet(parsed, 'show-configuration')) {
      io.stdout(formatIpamConfiguration(await client.ipam.getIPAMConfig()));
      return 0;
    }
    io.stdout(formatIpamShow(await client.ipam.getUtilization(), false));
    return 0;
  });
}

async function showBorrowed(client: Client): Promise<string> {
  const { formatBoxTable } = await import('../format.js');
  const rows: string[][] = [];
  let withoutNode = 0;
  const blocks = (await client.datastore.listKV({ type: 'block' })).items.sort((a, b) => (a.key.cidr < b.key.cidr ? -1 : 1));
  const { parseCIDR, addressAt } = await import('@libcalico-ts/net');
  for (const kv of blocks) {
    const b = kv.value;
    const owner = b.affinity?.includes(':') ? b.affinity.slice(b.affinity.indexOf(':') + 1) : '';
    const cidr = parseCIDR(b.cidr);
    b.allocations.forEach((attrIndex, ordinal) => {
      if (attrIndex === null || attrIndex === undefined) return;
      const secondary = b.attributes[attrIndex]?.secondary ?? {};
      const node = secondary.node;
      if (!node) {
        withoutNode++;
        return;
      }
      if (node === owner) return;
      let type = secondary.type ?? '';
      let to = '';
      if (secondary.vmi) {
        type = 'vmi';
        to = `${secondary.namespace ?? ''}/${secondary.vmi}`;
      } else if (secondary.pod) {
        type = 'pod';
        to = `${secondary.namespace ?? ''}/${secondary.pod}`;
      }
      rows.push([addressAt(cidr, ordinal).toString(), node, b.cidr, owner, type, to]);
    });
  }
  let out = formatBoxTable(['IP', 'BORROWING-NODE', 'BLOCK', 'BLOCK OWNER', 'TYPE', 'ALLOCATED-TO'], rows);
  if (withoutNode > 0) out += `\nNote: found ${withoutNode} IP allocations without an explicit node association. Unable to determine if they are borrowed.\n`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// check

/** The report `ipam check -o` writes: calicoctl's JSON layout. */
export interface CalicoctlCheckReport {
  version: string;
  clusterGUID: string;
  datastoreLocked: boolean;
  clusterInformationRevision: string;
  clusterType: string;
  allocations: Record<string, Array<{
    ip: string;
    handle?: string;
    sequenceNumber?: string;
    pod?: string;
    namespace?: string;
    node?: string;
    type?: string;
    creationTimestamp?: string;
    inUse: boolean;
    borrowed?: boolean;
    coolingDown?: boolean;
    owners: string[];
  }>>;
  leakedHandles?: Array<{ ID: string; UID: string | null; Revision: string }>;
}

function nodeTunnelIPs(node: Node): string[] {
  const spec = (node.spec ?? {}) as Record<string, unknown>;
  const bgp = (spec.bgp ?? {}) as Record<string, unknown>;
  const wg = (spec.wireguard ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const v of [spec.ipv4VXLANTunnelAddr, wg.interfaceIPv4Address, bgp.ipv4IPIPTunnelAddr]) {
    if (typeof v === 'string' && v && isIP(v.split('/')[0]!)) out.push(parseIP(v.split('/')[0]!).toString());
  }
  return out;
}

async function clusterInfo(client: Client): Promise<{ guid: string; revision: string; type: string; locked: boolean }> {
  try {
    const ci = await client.clusterInformations.get('default');
    const spec = (ci.spec ?? {}) as { clusterGUID?: string; clusterType?: string; datastoreReady?: boolean };
    return { guid: spec.clusterGUID ?? '', revision: ci.metadata.resourceVersion ?? '', type: spec.clusterType ?? '', locked: spec.datastoreReady === false };
  } catch (error) {
    if (!ResourceNotFoundError.isInstance(error)) throw error;
    return { guid: '', revision: '', type: '', locked: false };
  }
}

async function check(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'show-all-ips', type: 'boolean' }, { name: 'show-problem-ips', type: 'boolean' }, { name: 'output', short: 'o' }, { name: 'kubeconfig' }]);
  const showAll = flagSet(parsed, 'show-all-ips');
  const showProblems = showAll || flagSet(parsed, 'show-problem-ips');
  const output = flag(parsed, 'output');
  return withClient(parsed, io, async ({ client }) => {
    const started = Date.now();
    const progress = (text: string) => io.stderr(`[ipam check ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}\n`);
    const info = await clusterInfo(client);
    const out: string[] = ['Checking IPAM for inconsistencies...', ''];
    const blockCount = (await client.datastore.listKV({ type: 'block' })).items.length;
    const large = blockCount >= 500;
    if (large) progress(`checking ${blockCount} IPAM blocks...`);
    const report: IPAMCheckReport = await client.ipam.check();
    if (large) progress(`analysed ${report.allocations.length} allocations`);
    out.push('Loading all IPAM blocks...', `Found ${report.blocks.length} IPAM blocks.`);
    for (const b of report.blocks) out.push(` IPAM block ${b.cidr} affinity=${b.affinity ?? '<none>'}:`);
    out.push(`IPAM blocks record ${report.allocations.length} allocations.`, '');
    out.push('Loading all IPAM pools...', ...report.pools.map((p) => `  ${p}`), `Found ${report.pools.length} active IP pools.`, '');

    const owners = new Map<string, string[]>();
    const addOwner = (ip: string, owner: string) => owners.set(ip, [...(owners.get(ip) ?? []), owner]);
    const nodes = (await client.nodes.list()).items as Node[];
    let tunnelIPs = 0;
    for (const n of nodes) for (const ip of nodeTunnelIPs(n)) {
      tunnelIPs++;
      addOwner(ip, `Node(${n.metadata.name}) tunnel`);
    }
    out.push('Loading all nodes.', `Found ${tunnelIPs} node tunnel IPs.`, '');
    out.push('Loading all service load balancer IPs.', 'No configuration for LoadBalancer kubecontroller found, skipping service check', '');
    const weps = (await client.workloadEndpoints.list()).items as WorkloadEndpoint[];
    let wepIPs = 0;
    for (const w of weps) {
      for (const net of w.spec.ipNetworks ?? []) {
        const text = String(net).split('/')[0]!;
        if (!isIP(text)) continue;
        wepIPs++;
        addOwner(parseIP(text).toString(), `Workload(${w.metadata.namespace}/${w.metadata.name})`);
      }
    }
    out.push('Loading all workload endpoints.', `Found ${wepIPs} workload IPs.`, `Workloads and nodes are using ${owners.size} IPs.`, '');
    out.push('Loading all handles');
    const handles = (await client.datastore.listKV({ type: 'handle' })).items;
    const byNode = new Map<string, number>();
    for (const a of report.allocations) byNode.set(a.node, (byNode.get(a.node) ?? 0) + 1);
    const top = [...byNode.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    out.push('Looking for top (up to 20) nodes by allocations...');
    for (const [n, c] of top.slice(0, 20)) out.push(`  ${n} has ${c} allocations`);
    if (top.length > 0) {
      const counts = top.map(([, c]) => c).sort((a, b) => a - b);
      out.push(`Node with most allocations has ${counts[counts.length - 1]}; median is ${counts[Math.floor(counts.length / 2)]}`);
    }
    out.push('');
    const attrs = (a: IPAMCheckReport['allocations'][number]) => {
      const extra = [a.namespace ? `namespace=${a.namespace}` : '', a.node ? `node=${a.node}` : '', a.pod ? `pod=${a.pod}` : '', a.type ? `type=${a.type}` : ''].filter(Boolean).join(',');
      return `Main:${a.handle ?? '<none>'} Extra:${extra}`;
    };
    if (showAll) {
      for (const a of report.allocations) out.push(`  ${a.ip} allocated; attrs ${attrs(a)}`);
      for (const [ip, list] of owners) for (const o of list) out.push(`  ${ip} belongs to ${o}`);
    }
    out.push('Scanning for IPs that are allocated but not actually in use...');
    if (showProblems) for (const a of report.leakedIPs) out.push(`  ${a.ip} leaked; attrs ${attrs(a)}`);
    out.push(`Found ${report.leakedIPs.length} IPs that are allocated in IPAM but not actually in use.`);
    out.push('Scanning for IPs that are in use by a workload or node but not allocated in IPAM...');
    if (showProblems) {
      for (const ip of report.inUseNotAllocated.outsidePools) out.push(`  ${ip} in use by ${(owners.get(ip) ?? ['<unknown>']).join(', ')} is not in any active IP pool.`);
      for (const ip of report.inUseNotAllocated.insidePools) out.push(`  ${ip} in use by ${(owners.get(ip) ?? ['<unknown>']).join(', ')} and in active IPAM pool but has no IPAM allocation.`);
    }
    out.push(`Found ${report.inUseNotAllocated.outsidePools.length} in-use IPs that are not in active IP pools.`);
    out.push(`Found ${report.inUseNotAllocated.insidePools.length} in-use IPs that are in active IP pools but have no corresponding IPAM allocation.`, '');
    out.push('Scanning for IPAM handles with no matching IPs...');
    if (showProblems) for (const h of report.leakedHandles) out.push(`  ${h.handleId} doesn't have any active IPs.`);
    out.push(`Found ${report.leakedHandles.length} handles with no matching IPs (and ${handles.length - report.leakedHandles.length} handles with matches).`);
    out.push('Scanning for IPs with missing handle...');
    if (showProblems) for (const h of report.missingHandles) out.push(`  ${h} is in use in a block but doesn't exist.`);
    out.push(`Found ${report.missingHandles.length} handles mentioned in blocks with no matching handle resource.`);
    out.push('Validating IPAMBlock structures...');
    for (const b of report.invalidBlocks) out.push(`  IPAMBlock ${b.cidr} is invalid: ${b.reason}`);
    out.push(`Found ${report.invalidBlocks.length} invalid IPAMBlocks.`);
    for (const m of report.handleCountMismatches) out.push(`  handle ${m.handleId} records ${m.recorded} addresses in block ${m.block}, the block holds ${m.actual}`);
    out.push('Scanning for stranded block affinities...');
    const blockState = (a: IPAMCheckReport['strandedAffinities'][number]) => (a.block === 'absent' ? 'its block does not exist' : 'its block is not owned by the host');
    for (const a of report.strandedAffinities) out.push(`  BlockAffinity ${a.host}/${a.cidr} (${a.affinityType}) is stuck in state ${a.state}: ${blockState(a)}.`);
    out.push(`Found ${report.strandedAffinities.length} stranded block affinities (an interrupted release; ipam gc deletes them).`);
    if (report.pendingAffinities.length > 0) {
      for (const a of report.pendingAffinities) out.push(`  BlockAffinity ${a.host}/${a.cidr} (${a.affinityType}) is in state ${a.state}: ${blockState(a)}.`);
      out.push(`Found ${report.pendingAffinities.length} pending block affinities without their block (a claim may still be running; not counted as problems).`);
    }
    out.push(`Check complete; found ${report.problemCount} problems.`);
    io.stdout(out.join('\n') + '\n');
    if (output) {
      const allocations: CalicoctlCheckReport['allocations'] = {};
      for (const a of report.allocations) {
        const entry = {
          ip: a.ip,
          ...(a.handle ? { handle: a.handle } : {}),
          sequenceNumber: a.sequenceNumber,
          ...(a.pod ? { pod: a.pod } : {}),
          ...(a.namespace ? { namespace: a.namespace } : {}),
          ...(a.node ? { node: a.node } : {}),
          ...(a.type ? { type: a.type } : {}),
          ...(a.timestamp ? { creationTimestamp: a.timestamp } : {}),
          inUse: a.inUse || a.windowsReserved,
          ...(a.borrowed ? { borrowed: true } : {}),
          ...(a.coolingDown ? { coolingDown: true } : {}),
          owners: owners.get(a.ip) ?? (a.windowsReserved ? ['Reserved for Windows'] : []),
        };
        (allocations[a.ip] ??= []).push(entry);
      }
      const json: CalicoctlCheckReport = {
        version: CLI_VERSION,
        clusterGUID: info.guid,
        datastoreLocked: info.locked,
        clusterInformationRevision: info.revision,
        clusterType: info.type,
        allocations,
        ...(report.leakedHandles.length > 0 ? { leakedHandles: report.leakedHandles.map((h) => ({ ID: h.handleId, UID: null, Revision: h.revision })) } : {}),
      };
      // Sequence numbers are uint64: written as JSON numbers without going through a double.
      const text = JSON.stringify(json, null, 2).replace(/"sequenceNumber": "(\d+)"/g, '"sequenceNumber": $1');
      writeFileAtomic(output, text);
      if (large) progress(`report written to ${output}`);
    }
    return 0;
  });
}

/** Parses a report written by `ipam check -o` (sequence numbers kept exact). */
export function parseCheckReport(text: string, source: string): CalicoctlCheckReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.replace(/"sequenceNumber":\s*(\d+)/g, '"sequenceNumber": "$1"'));
  } catch (error) {
    throw new CommandError(`failed to parse report file ${source}: ${messageOf(error)}`);
  }
  const r = parsed as CalicoctlCheckReport;
  if (!r || typeof r !== 'object' || typeof r.allocations !== 'object' || r.allocations === null || typeof r.version !== 'string') {
    throw new CommandError(`failed to parse report file ${source}: not an ipam check report`);
  }
  return r;
}

async function release(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'ip' }, { name: 'from-report', repeat: true }, { name: 'force', type: 'boolean' }]);
  const reports = parsed.flags.get('from-report') ?? [];
  const ipText = flag(parsed, 'ip');
  if (reports.length === 0 && ipText === undefined) throw new UsageError('ipam release needs --ip or --from-report');
  if (reports.length > 0 && ipText !== undefined) throw new UsageError('--ip and --from-report cannot be combined');
  const ip = ipText !== undefined ? validateIP(ipText) : undefined;
  const loaded = reports.map((path) => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new CommandError(`failed to read report file ${path}: ${messageOf(error)}`);
    }
    return parseCheckReport(text, path);
  });
  return withClient(parsed, io, async ({ client }) => {
    if (ip !== undefined) {
      let result;
      try {
        result = await client.ipam.releaseIPs([{ address: ip }]);
      } catch (error) {
        throw new CommandError(`error: ${messageOf(error)}`);
      }
      if (result.unallocated.length > 0) throw new CommandError(`IP address ${ip} is not assigned`);
      io.stdout(`Successfully released IP address ${ip}\n`);
      return 0;
    }
    const info = await clusterInfo(client);
    for (const [i, r] of loaded.entries()) {
      if (r.clusterGUID !== info.guid) {
        throw new CommandError(`report ${reports[i]} was produced for cluster ${r.clusterGUID || '<none>'}, this cluster is ${info.guid || '<none>'}`);
      }
      if (r.version !== CLI_VERSION) {
        if (!flagSet(parsed, 'force')) throw new CommandError(`report ${reports[i]} was produced by calicoctl ${r.version}, this is ${CLI_VERSION}; re-run ipam check or use --force`);
        io.stdout(`WARNING: report ${reports[i]} was produced by calicoctl ${r.version}, this is ${CLI_VERSION}\n`);
      }
    }
    if (!loaded.some((r) => r.clusterInformationRevision === info.revision)) {
      throw new CommandError('the provided reports are all stale (the ClusterInformation changed since they were produced); re-run ipam check and release from a fresh report');
    }
    if (!info.locked) {
      if (!flagSet(parsed, 'force')) throw new CommandError('data store is not locked. Either lock the data store, or re-run with --force');
      io.stdout('WARNING: data store is not locked; releasing anyway because of --force\n');
    }
    // Leaked addresses: not in use and not cooling down in every report (first report's data).
    const leakedIn = (r: CalicoctlCheckReport) => new Set(Object.entries(r.allocations).filter(([, list]) => list.some((a) => !a.inUse && !a.coolingDown)).map(([ipKey]) => ipKey));
    const sets = loaded.map(leakedIn);
    const first = loaded[0]!;
    const toRelease = [...sets[0]!].filter((k) => sets.every((s) => s.has(k))).sort();
    if (toRelease.length === 0) io.stdout("Report didn't contain any leaked IPs to clean up.\n");
    else {
      io.stdout(`Releasing ${toRelease.length} old IPs...\n`);
      const options = toRelease.map((k) => {
        const a = first.allocations[k]!.find((x) => !x.inUse && !x.coolingDown)!;
        return { address: k, ...(a.handle ? { handleId: a.handle } : {}), ...(a.sequenceNumber !== undefined ? { sequenceNumber: BigInt(a.sequenceNumber) } : {}) };
      });
      try {
        const result = await client.ipam.releaseIPs(options);
        io.stdout(`Released ${toRelease.length - result.unallocated.length} IPs successfully\n`);
        if (result.unallocated.length > 0) io.stdout(`${result.unallocated.length} addresses marked as leaked in the report had already been cleaned up.\n`);
      } catch (error) {
        io.stdout(`Error releasing IPs: ${messageOf(error)}\n`);
      }
    }
    const handleSets = loaded.map((r) => new Map((r.leakedHandles ?? []).map((h) => [h.ID, h.Revision])));
    const handles = [...handleSets[0]!.entries()].filter(([id, rev]) => handleSets.every((m) => m.get(id) === rev));
    if (handles.length === 0) io.stdout("Report didn't contain any handles to clean up.\n");
    else {
      io.stdout(`Deleting ${handles.length} handles...\nKey: '.' = Deleted OK; 'x' = skip, handle missing/changed.\n`);
      let ok = 0;
      let skipped = 0;
      let errors = 0;
      let marks = '';
      for (const [id, revision] of handles) {
        try {
          await client.datastore.deleteKV({ type: 'handle', handleId: id }, revision);
          ok++;
          marks += '.';
        } catch (error) {
          const name = (error as Error).name;
          if (name === 'ResourceNotFoundError' || name === 'UpdateConflictError') {
            skipped++;
            marks += 'x';
          } else errors++;
        }
      }
      io.stdout(`${marks}\nReleased ${ok} handles; ${skipped} skipped; ${errors} errors.\n`);
    }
    io.stdout('You may now unlock the data store.\n');
    return 0;
  });
}

async function configure(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'strictaffinity' }, { name: 'max-blocks-per-host' }, { name: 'kubevirt-ip-persistence' }, { name: 'ip-cooldown-seconds' }]);
  const strict = flag(parsed, 'strictaffinity');
  const maxBlocks = flag(parsed, 'max-blocks-per-host');
  const persistence = flag(parsed, 'kubevirt-ip-persistence');
  const cooldown = flag(parsed, 'ip-cooldown-seconds');
  if (strict === undefined && maxBlocks === undefined && persistence === undefined && cooldown === undefined) {
    throw new CommandError('at least one configuration option must be specified');
  }
  const update: Record<string, unknown> = {};
  if (strict !== undefined) {
    if (strict !== 'true' && strict !== 'false') throw new CommandError('invalid value. Use true or false to set strictaffinity');
    update.strictAffinity = strict === 'true';
  }
  if (maxBlocks !== undefined) {
    if (!/^\d+$/.test(maxBlocks) || !Number.isSafeInteger(Number(maxBlocks))) throw new CommandError('invalid value for maxblockhost. Use a valid number');
    update.maxBlocksPerHost = Number(maxBlocks);
  }
  if (persistence !== undefined) {
    if (persistence !== 'Enabled' && persistence !== 'Disabled') throw new CommandError('invalid value for --kubevirt-ip-persistence. Use Enabled or Disabled');
    update.kubeVirtVMAddressPersistence = persistence;
  }
  if (cooldown !== undefined) {
    if (!/^\d+$/.test(cooldown)) throw new CommandError('invalid value for --ip-cooldown-seconds. Use a non-negative number');
    update.ipCooldownSeconds = Number(cooldown);
  }
  return withClient(parsed, io, async ({ client }) => {
    try {
      await client.ipam.setIPAMConfig(update);
    } catch (error) {
      throw new CommandError(`failed to set IPAM configuration: ${messageOf(error)}`);
    }
    if (strict !== undefined) io.stdout(`Successfully set StrictAffinity to: ${strict}\n`);
    if (maxBlocks !== undefined) io.stdout(`Successfully set MaxBlocksPerHost to: ${Number(maxBlocks)}\n`);
    if (persistence !== undefined) io.stdout(`Successfully set KubeVirtVMAddressPersistence to: ${persistence}\n`);
    if (cooldown !== undefined) io.stdout(`Successfully set IPCooldownSeconds to: ${Number(cooldown)}\n`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// Pinning (extension)

/**
 * `ipam pin --ip IP [--owner O] [--pool P] [--handle H] [--assign --node N]`: a thin layer over
 * `client.pinning.pin` (and `assign`).
 */
async function pin(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'ip' }, { name: 'owner' }, { name: 'pool' }, { name: 'assign', type: 'boolean' }, { name: 'node' }, { name: 'handle' }]);
  const ipText = flag(parsed, 'ip');
  if (ipText === undefined) throw new UsageError('ipam pin needs --ip');
  const ip = validateIP(ipText);
  const owner = flag(parsed, 'owner');
  const pool = flag(parsed, 'pool');
  const handleId = flag(parsed, 'handle');
  const node = flag(parsed, 'node');
  const assign = flagSet(parsed, 'assign');
  if (assign && (!owner || !node)) throw new UsageError('--assign needs --owner and --node');
  return withClient(parsed, io, async ({ client }) => {
    try {
      const p = await client.pinning.pin({ ip, ...(owner ? { owner } : {}), ...(pool ? { pool } : {}), ...(handleId ? { handleId } : {}) });
      io.stdout(`Pinned IP address ${p.ip} (IPReservation ${p.reservation}${p.owner ? `, owner ${p.owner}` : ''})\n`);
      if (assign) {
        const a = await client.pinning.assign({ ip, owner: owner!, hostname: node!, ...(handleId ? { handleId } : {}) });
        io.stdout(`${a.created ? 'Assigned' : 'Already assigned'} IP address ${a.ip} to ${owner} (handle ${a.handleId})\n`);
      }
    } catch (error) {
      throw new CommandError(`Error executing command: ${messageOf(error)}`);
    }
    return 0;
  });
}

/** `ipam unpin --ip IP [--owner O]`: `client.pinning.unpin`. */
async function unpin(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'ip' }, { name: 'owner' }]);
  const ipText = flag(parsed, 'ip');
  if (ipText === undefined) throw new UsageError('ipam unpin needs --ip');
  const ip = validateIP(ipText);
  const owner = flag(parsed, 'owner');
  return withClient(parsed, io, async ({ client }) => {
    let removed;
    try {
      removed = await client.pinning.unpin(ip, owner ? { owner } : {});
    } catch (error) {
      throw new CommandError(`Error executing command: ${messageOf(error)}`);
    }
    if (!removed) throw new CommandError(`IP address ${ip} is not pinned`);
    io.stdout(`Unpinned IP address ${removed.ip}\n`);
    return 0;
  });
}

/** Renders `client.pinning.owner(ip)`. */
export function formatAddressOwner(o: AddressOwner): string {
  let text = `IP ${o.ip}\n`;
  text += o.pool ? `Pool: ${o.pool.name} (${o.pool.cidr})${o.pool.disabled ? ', disabled' : ''}\n` : 'Pool: none\n';
  if (o.block) text += o.block.exists ? `Block: ${o.block.cidr} (affinity ${o.block.affinity ?? 'none'})\n` : `Block: ${o.block.cidr} (not created)\n`;
  text += o.pin ? `Pinned: yes (IPReservation ${o.pin.reservation}, owner ${o.pin.owner ?? '<none>'})\n` : 'Pinned: no\n';
  if (o.reservations.length > 0) text += `Reserved by: ${o.reservations.join(', ')}\n`;
  if (o.allocation) {
    text += `Allocated: yes (handle ${o.allocation.handleId ?? '<none>'})\n`;
    for (const k of Object.keys(o.allocation.attrs).sort()) text += `  ${k}: ${o.allocation.attrs[k]}\n`;
  } else if (o.releasedAt) text += `Allocated: no (released at ${o.releasedAt}, cooling down)\n`;
  else text += 'Allocated: no\n';
  text += o.workloadEndpoints.length > 0 ? `Workload endpoints: ${o.workloadEndpoints.join(', ')}\n` : 'Workload endpoints: none\n';
  return text;
}

/** `ipam owner --ip IP`: `client.pinning.owner`. */
async function owner(argv: readonly string[], io: CliIO): Promise<number> {
  const parsed = parseArgs(argv, [...CONFIG_FLAGS, { name: 'ip' }]);
  const ipText = flag(parsed, 'ip');
  if (ipText === undefined) throw new UsageError('ipam owner needs --ip');
  const ip = validateIP(ipText);
  return withClient(parsed, io, async ({ client }) => {
    let o: AddressOwner;
    try {
      o = await client.pinning.owner(ip);
    } catch (error) {
      throw new CommandError(`Error executing command: ${messageOf(error)}`);
    }
    io.stdout(formatAddressOwner(o));
    return 0;
  });
}

/** `calicoctl ipam <subcommand>`. */
export async function ipamCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'show':
      return show(rest, io);
    case 'check':
      return check(rest, io);
    case 'release':
      return release(rest, io);
    case 'configure':
      return configure(rest, io);
    case 'pin':
      return pin(rest, io);
    case 'unpin':
      return unpin(rest, io);
    case 'owner':
      return owner(rest, io);
    default:
      throw new UsageError(`unknown ipam subcommand ${sub ?? '<none>'}`);
  }
}
