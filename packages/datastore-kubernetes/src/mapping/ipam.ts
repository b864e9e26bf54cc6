/**
 * IPAM model values <-> IPAM custom resource specs (reference §4.5, §4.6, §7.5, E11-E14).
 * Field names and order follow Calico's CRD types; sequence numbers stay `bigint`.
 */
import type { AllocationAttribute, AllocationBlock, BlockAffinity, BlockAffinityState, IPAMConfig, IPAMHandle } from '@libcalico-ts/datastore';
import { toBigInt } from '../json.js';

export class DecodeError extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The IPAMBlock CR spec of a block. */
export function blockToSpec(block: AllocationBlock): Record<string, unknown> {
  const spec: Record<string, unknown> = { cidr: block.cidr };
  if (block.affinity !== null && block.affinity !== undefined) spec.affinity = block.affinity;
  if (block.affinityClaimTime) spec.affinityClaimTime = block.affinityClaimTime;
  spec.allocations = block.allocations;
  spec.unallocated = block.unallocated;
  spec.attributes = block.attributes.map((a) => {
    const out: Record<string, unknown> = {};
    if (a.handleId !== null) out.handle_id = a.handleId;
    if (a.secondary !== null) out.secondary = a.secondary;
    if (a.alternateOwnerAttrs !== undefined) out.alternateOwnerAttrs = a.alternateOwnerAttrs;
    if (a.releasedAt !== undefined) out.releasedAt = a.releasedAt;
    return out;
  });
  spec.sequenceNumber = block.sequenceNumber;
  spec.sequenceNumberForAllocation = block.sequenceNumberForAllocation;
  spec.deleted = block.deleted;
  spec.strictAffinity = false;
  return spec;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (!isObject(v)) throw new DecodeError(`${what} is not an object`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw new DecodeError(`${what}.${k} is not a string`);
    out[k] = x;
  }
  return out;
}

/** Reads an IPAMBlock CR spec. Throws DecodeError on a malformed spec. */
export function specToBlock(spec: unknown): AllocationBlock {
  if (!isObject(spec)) throw new DecodeError('spec is not an object');
  if (typeof spec.cidr !== 'string') throw new DecodeError('spec.cidr is missing');
  const allocations = spec.allocations ?? [];
  if (!Array.isArray(allocations) || !allocations.every((a) => a === null || typeof a === 'number')) throw new DecodeError('spec.allocations is malformed');
  const unallocated = spec.unallocated ?? [];
  if (!Array.isArray(unallocated) || !unallocated.every((a) => typeof a === 'number')) throw new DecodeError('spec.unallocated is malformed');
  const attributesRaw = spec.attributes ?? [];
  if (!Array.isArray(attributesRaw)) throw new DecodeError('spec.attributes is malformed');
  const attributes: AllocationAttribute[] = attributesRaw.map((a, i) => {
    if (!isObject(a)) throw new DecodeError(`spec.attributes[${i}] is not an object`);
    const out: AllocationAttribute = {
      handleId: typeof a.handle_id === 'string' ? a.handle_id : null,
      secondary: a.secondary === undefined || a.secondary === null ? null : stringMap(a.secondary, `spec.attributes[${i}].secondary`),
    };
    if (a.alternateOwnerAttrs !== undefined && a.alternateOwnerAttrs !== null) out.alternateOwnerAttrs = stringMap(a.alternateOwnerAttrs, `spec.attributes[${i}].alternateOwnerAttrs`);
    if (typeof a.releasedAt === 'string') out.releasedAt = a.releasedAt;
    return out;
  });
  const sequenceNumber = spec.sequenceNumber === undefined ? 0n : toBigInt(spec.sequenceNumber);
  if (sequenceNumber === undefined) throw new DecodeError('spec.sequenceNumber is not an integer');
  const seqForAlloc: Record<string, bigint> = {};
  if (spec.sequenceNumberForAllocation !== undefined && spec.sequenceNumberForAllocation !== null) {
    if (!isObject(spec.sequenceNumberForAllocation)) throw new DecodeError('spec.sequenceNumberForAllocation is not an object');
    for (const [k, v] of Object.entries(spec.sequenceNumberForAllocation)) {
      const n = toBigInt(v);
      if (n === undefined) throw new DecodeError(`spec.sequenceNumberForAllocation.${k} is not an integer`);
      seqForAlloc[k] = n;
    }
  }
  const block: AllocationBlock = {
    cidr: spec.cidr,
    affinity: typeof spec.affinity === 'string' && spec.affinity !== '' ? spec.affinity : null,
    allocations: allocations as (number | null)[],
    unallocated: unallocated as number[],
    attributes,
    sequenceNumber,
    sequenceNumberForAllocation: seqForAlloc,
    deleted: spec.deleted === true,
  };
  if (typeof spec.affinityClaimTime === 'string' && spec.affinityClaimTime !== '') block.affinityClaimTime = spec.affinityClaimTime;
  // Keep the contract's field order (affinityClaimTime after affinity) for readable output.
  const { cidr, affinity, affinityClaimTime, ...rest } = block;
  return affinityClaimTime === undefined ? { cidr, affinity, ...rest } : { cidr, affinity, affinityClaimTime, ...rest };
}

/** The BlockAffinity CR spec; `deleted` is a string in v1 and a bool in v3. */
export function affinityToSpec(value: BlockAffinity, host: string, cidr: string, affinityType: string, v1: boolean): Record<string, unknown> {
  return { state: value.state, node: host, type: affinityType, cidr, deleted: v1 ? String(value.deleted === true) : value.deleted === true };
}

/** Reads a BlockAffinity CR spec: the value and the key fields. Accepts `deleted` as string or bool. */
export function specToAffinity(spec: unknown): { value: BlockAffinity; host: string; cidr: string; affinityType: string } {
  if (!isObject(spec)) throw new DecodeError('spec is not an object');
  if (typeof spec.node !== 'string' || spec.node === '') throw new DecodeError('spec.node is missing');
  if (typeof spec.cidr !== 'string' || spec.cidr === '') throw new DecodeError('spec.cidr is missing');
  const deleted = spec.deleted === true || spec.deleted === 'true';
  const state = (typeof spec.state === 'string' ? spec.state : '') as BlockAffinityState;
  const affinityType = typeof spec.type === 'string' && spec.type !== '' ? spec.type : 'host';
  return { value: { state, deleted }, host: spec.node, cidr: spec.cidr, affinityType };
}

/** The IPAMHandle CR spec. */
export function handleToSpec(value: IPAMHandle, handleId: string): Record<string, unknown> {
  return { handleID: handleId, block: value.block, deleted: value.deleted === true };
}

/** Reads an IPAMHandle CR spec (the handle id in original case comes from `spec.handleID`). */
export function specToHandle(spec: unknown, crName: string): { value: IPAMHandle; handleId: string } {
  if (!isObject(spec)) throw new DecodeError('spec is not an object');
  const block: Record<string, number> = {};
  if (spec.block !== undefined && spec.block !== null) {
    if (!isObject(spec.block)) throw new DecodeError('spec.block is not an object');
    for (const [k, v] of Object.entries(spec.block)) {
      if (typeof v !== 'number') throw new DecodeError(`spec.block.${k} is not a number`);
      block[k] = v;
    }
  }
  const handleId = typeof spec.handleID === 'string' && spec.handleID !== '' ? spec.handleID : crName;
  return { value: { block, deleted: spec.deleted === true }, handleId };
}

/** The IPAMConfig (v1) / IPAMConfiguration (v3) CR spec. */
export function ipamConfigToSpec(value: IPAMConfig): Record<string, unknown> {
  const spec: Record<string, unknown> = { strictAffinity: value.strictAffinity, autoAllocateBlocks: value.autoAllocateBlocks };
  if (value.maxBlocksPerHost) spec.maxBlocksPerHost = value.maxBlocksPerHost;
  if (value.kubeVirtVMAddressPersistence) spec.kubeVirtVMAddressPersistence = value.kubeVirtVMAddressPersistence;
  if (value.ipCooldownSeconds) spec.ipCooldownSeconds = value.ipCooldownSeconds;
  return spec;
}

/** Reads an IPAM config CR spec; absent booleans read as false, as Go decodes them. */
export function specToIpamConfig(spec: unknown): IPAMConfig {
  if (!isObject(spec)) throw new DecodeError('spec is not an object');
  const out: IPAMConfig = {
    strictAffinity: spec.strictAffinity === true,
    autoAllocateBlocks: spec.autoAllocateBlocks === true,
    maxBlocksPerHost: typeof spec.maxBlocksPerHost === 'number' ? spec.maxBlocksPerHost : 0,
  };
  if (spec.kubeVirtVMAddressPersistence === 'Enabled' || spec.kubeVirtVMAddressPersistence === 'Disabled') out.kubeVirtVMAddressPersistence = spec.kubeVirtVMAddressPersistence;
  if (typeof spec.ipCooldownSeconds === 'number' && spec.ipCooldownSeconds !== 0) out.ipCooldownSeconds = spec.ipCooldownSeconds;
  return out;
}
