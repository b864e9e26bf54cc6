/**
 * IP pinning (`client.pinning`): give a workload a stable address across restarts, as platforms
 * such as Rainbond or StatefulSet-like controllers need.
 *
 * - {@link PinningClient.pin} reserves one address with an `IPReservation` named after it
 *   (`pin-10-244-1-7`), so `autoAssign` never hands it out, and records whom it is pinned for;
 * - {@link PinningClient.assign} allocates the pinned address to that workload on request
 *   (IPAM `assignIP`, which reservations do not bind), with its handle and attributes;
 * - {@link PinningClient.owner} answers "who owns this address": pool, block, allocation
 *   (handle, attributes), the pin and other reservations, the WorkloadEndpoints carrying it;
 * - {@link PinningClient.unpin} removes the reservation (an allocation made meanwhile stays).
 *
 * Everything is stored as plain Calico objects (an IPReservation with a label and an annotation,
 * an ordinary IPAM allocation), so calicoctl and Calico's own IPAM see and honour it.
 *
 * Races. A pin is the compare-and-swap creation of its reservation: of two concurrent pins of an
 * address exactly one creates it, the other sees it and fails (or, pinned for the same owner,
 * returns it). An assignment is IPAM's compare-and-swap on the block: of two concurrent
 * assignments to different handles exactly one wins. A pin racing an allocation of the address
 * is detected by re-reading the allocation after the reservation exists; the pin is then undone.
 * IPAM engines re-read the reservation list on every autoAssign by default (`cacheTtlMs` 0), so
 * once the reservation exists no engine hands the address out and `pin()` does not wait. Engines
 * that opt into a cache (`cacheTtlMs` > 0, memory or etcd) may use a reservation list up to that
 * old, and a reservation created meanwhile is not among the revisions their commits are
 * conditioned on: a client built with such an `ipam.cacheTtlMs` waits that long (`pinSettleMs`)
 * before the final check, so that when `pin()` resolves no such engine can still hand it out.
 */
import {
  CalicoError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type FieldError,
  type IPPool,
  type IPReservation,
  type WorkloadEndpoint,
} from '@libcalico-ts/api';
import type { AllocationBlock, Datastore } from '@libcalico-ts/datastore';
import type { IPAM, IntendedUse } from '@libcalico-ts/ipam';
import { blockContaining, parseCIDR, parseIP, type CIDR, type IPAddress } from '@libcalico-ts/net';
import type { ResourceClient } from './types.js';

/** Annotation of a pin's IPReservation holding the owner the address is pinned for. */
export const PIN_OWNER_ANNOTATION = 'libcalico-ts.io/pinned-owner';
/** Label (value `"true"`) marking IPReservations made by {@link PinningClient.pin}. */
export const PIN_LABEL = 'libcalico-ts.io/pin';
/** Prefix of the default handle of a pinned assignment: `pinned.<owner>`. */
export const PINNED_HANDLE_PREFIX = 'pinned.';
/** Secondary attribute recording the owner on a pinned assignment. */
export const PINNED_OWNER_ATTRIBUTE = 'owner';

/** Why a pinning call was refused (the {@link PinningError} `code`). */
export const PinningErrorCode = {
  /** The address is in no IP pool (of its family). */
  NotInPool: 'notInPool',
  /** The address and the pool named in the request are of different IP versions, or no pool of its version exists. */
  WrongFamily: 'wrongFamily',
  /** The address is already pinned for another owner. */
  PinnedForOther: 'pinnedForOther',
  /** The address is allocated (to another handle than the request's). */
  Allocated: 'allocated',
  /** `assign` of an address that is not pinned. */
  NotPinned: 'notPinned',
  /** `assign` in a disabled pool (IPAM allocates only from enabled pools). */
  PoolDisabled: 'poolDisabled',
  /** An IPReservation with the pin's name exists but was not made by pinning. */
  ForeignReservation: 'foreignReservation',
} as const;
export type PinningErrorCode = (typeof PinningErrorCode)[keyof typeof PinningErrorCode];

/**
 * A pinning request refused because of the state of the cluster (nothing was written). A
 * `ValidationError` (`@libcalico-ts/api`) (so `ValidationError.isInstance` holds) with a machine-readable `code`;
 * `fields` names the offending input (`ip`, `owner`, `pool`, `handleId`).
 */
export class PinningError extends ValidationError {
  static override readonly errorName: string = 'PinningError';
  /** What was wrong. */
  readonly code: PinningErrorCode;
  /** The address concerned (canonical text). */
  readonly ip: string;
  constructor(code: PinningErrorCode, ip: string, field: FieldError, options: { cause?: unknown } = {}) {
    super([field], { ...options, identifier: ip, message: `${ip}: ${field.reason}` });
    this.code = code;
    this.ip = ip;
  }
}

/** A pinned address. */
export interface Pin {
  /** The address (canonical text: `10.244.1.7`, `fd00::7`). */
  ip: string;
  ipVersion: 4 | 6;
  /** Whom it is pinned for; null: pinned for nobody in particular (any owner may assign it). */
  owner: string | null;
  /** Name of the IPReservation holding it. */
  reservation: string;
  /** The reservation's resourceVersion. */
  resourceVersion: string;
  /** When it was pinned (RFC 3339, whole seconds), when known. */
  pinnedAt?: string;
}

/** Options of {@link PinningClient.pin}. */
export interface PinOptions {
  /** The address (IPv4 or IPv6, no prefix). */
  ip: string;
  /** Whom the address is pinned for (a workload name such as `web-0` or `ns/pod`). Default: nobody in particular. */
  owner?: string;
  /** Name of the IP pool the address must belong to; default any pool containing it. */
  pool?: string;
  /**
   * The handle of an existing allocation of the address that the pin may keep (pinning the
   * address a running workload already has). Without it, an allocated address can only be
   * pinned when its handle is the default `pinned.<owner>`.
   */
  handleId?: string;
  /**
   * How long to wait (ms) after creating the reservation before the final allocation check, so
   * that IPAM engines caching the reservation list see it (see the module notes). Default: the
   * client's `pinSettleMs`. 0 skips the wait (the check still runs).
   */
  settleMs?: number;
}

/** Options of {@link PinningClient.assign}. */
export interface AssignPinnedOptions {
  /** The pinned address. */
  ip: string;
  /** The workload asking; must equal the pin's owner when the pin has one. */
  owner?: string;
  /** The node the workload runs on: IPAM affinity host, and the `node` attribute. */
  hostname: string;
  /** The allocation's handle (e.g. `k8s-pod-network.<containerID>`); default `pinned.<owner>`. */
  handleId?: string;
  /** More owner attributes (`pod`, `namespace`, ...); they override the defaults `node` and `owner`. */
  attrs?: Record<string, string>;
  /** IPAM intended use (default `Workload`); must be allowed by the pool. */
  intendedUse?: IntendedUse;
}

/** The result of {@link PinningClient.assign}. */
export interface PinnedAssignment {
  ip: string;
  handleId: string;
  /** The allocation's owner attributes as stored. */
  attrs: Record<string, string>;
  /** The allocation block holding the address. */
  block: string;
  /** False when the address was already allocated to this handle (nothing written). */
  created: boolean;
  pin: Pin;
}

/** Options of {@link PinningClient.unpin}. */
export interface UnpinOptions {
  /** Unpin only if the address is pinned for this owner (`PinningError` `pinnedForOther` otherwise). */
  owner?: string;
}

/** An IPAM allocation of an address. */
export interface AddressAllocation {
  /** The handle (sanitised as Calico does: cut at the first carriage return); null on legacy rows. */
  handleId: string | null;
  /** Owner attributes (`secondary`: node, pod, namespace, owner, ...). */
  attrs: Record<string, string>;
  /** Alternate owner attributes (KubeVirt live migration). */
  alternateOwnerAttrs: Record<string, string>;
}

/** Everything known about who owns an address ({@link PinningClient.owner}). */
export interface AddressOwner {
  ip: string;
  ipVersion: 4 | 6;
  /** The IP pool containing the address (null: none). */
  pool: { name: string; cidr: string; disabled: boolean } | null;
  /** The allocation block that holds (or would hold) the address; `exists` false when not created yet; `affinity` is `host:<node>`, `virtual:<name>` or null. */
  block: { cidr: string; exists: boolean; affinity: string | null } | null;
  /** The allocation (null when the address is free or cooling down). */
  allocation: AddressAllocation | null;
  /** Set while a released address cools down (RFC 3339): not allocated, not yet reusable. */
  releasedAt: string | null;
  /** The pin covering the address, if any. */
  pin: Pin | null;
  /** Names of the other IPReservations covering the address. */
  reservations: string[];
  /** `namespace/name` of the WorkloadEndpoints listing the address in `spec.ipNetworks`. */
  workloadEndpoints: string[];
}

/** What {@link PinningClient} needs from its client. */
export interface PinningContext {
  readonly datastore: Datastore;
  readonly ipam: IPAM;
  readonly ipPools: ResourceClient<'IPPool'>;
  readonly ipReservations: ResourceClient<'IPReservation'>;
  readonly workloadEndpoints: ResourceClient<'WorkloadEndpoint'>;
  /** Default of {@link PinOptions.settleMs}. */
  readonly settleMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

const MAX_OWNER_LENGTH = 253;
const UNPIN_RETRIES = 5;

/** Parses an address; IPv4-mapped IPv6 addresses are taken as their IPv4 address (as Go does). */
function parseAddress(text: unknown, field: string, errors: FieldError[]): IPAddress | undefined {
  if (typeof text !== 'string' || text.trim() === '') {
    errors.push({ name: field, value: text, reason: 'an IP address is required' });
    return undefined;
  }
  try {
    const ip = parseIP(text.trim());
    return ip.isIPv4Mapped() ? ip.toIPv4() : ip;
  } catch (error) {
    errors.push({ name: field, value: text, reason: `not an IP address (${(error as Error).message})` });
    return undefined;
  }
}

function checkName(value: unknown, field: string, errors: FieldError[], required: boolean, max = MAX_OWNER_LENGTH): value is string {
  if (value === undefined && !required) return false;
  if (typeof value !== 'string' || value === '') {
    errors.push({ name: field, value, reason: 'must be a non-empty string' });
    return false;
  }
  if (value.length > max) errors.push({ name: field, value, reason: `must be at most ${max} characters` });
  // eslint-disable-next-line no-control-regex
  else if (/[\u0000-\u001f\u007f]/.test(value)) errors.push({ name: field, value, reason: 'must not contain control characters' });
  else return true;
  return false;
}

function checkSettle(value: unknown, errors: FieldError[]): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
    errors.push({ name: 'settleMs', value, reason: 'must be a finite number >= 0' });
  }
}

/**
 * The IPReservation name of a pinned address: `pin-` and the IPv4 address with `-` for `.`
 * (`pin-10-244-1-7`), or the eight 4-digit groups of an IPv6 address (`pin-fd00-0000-...-0007`),
 * always a valid Kubernetes object name.
 * @throws ValidationError when `ip` is not an address.
 */
export function pinReservationName(ip: string): string {
  const errors: FieldError[] = [];
  const address = parseAddress(ip, 'ip', errors);
  if (!address) throw new ValidationError(errors);
  return nameOf(address);
}

function nameOf(ip: IPAddress): string {
  if (ip.version === 4) return `pin-${ip.toString().replace(/\./g, '-')}`;
  const hex = ip.value.toString(16).padStart(32, '0');
  return `pin-${hex.match(/.{4}/g)!.join('-')}`;
}

function hostCIDR(ip: IPAddress): string {
  return `${ip.toString()}/${ip.version === 4 ? 32 : 128}`;
}

function sanitizeHandle(handle: string | null | undefined): string | null {
  if (handle === null || handle === undefined) return null;
  const cut = handle.indexOf('\r');
  return cut < 0 ? handle : handle.slice(0, cut);
}

function tryCIDR(text: unknown): CIDR | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    return parseCIDR(text.trim(), { allowBareIP: true });
  } catch {
    return undefined;
  }
}

function covers(cidrText: unknown, ip: IPAddress): boolean {
  const cidr = tryCIDR(cidrText);
  return cidr !== undefined && cidr.version === ip.version && cidr.contains(ip);
}

function isPinReservation(r: IPReservation): boolean {
  return r.metadata.labels?.[PIN_LABEL] === 'true';
}

function toPin(r: IPReservation, ip: IPAddress): Pin {
  const owner = r.metadata.annotations?.[PIN_OWNER_ANNOTATION];
  return {
    ip: ip.toString(),
    ipVersion: ip.version,
    owner: owner ? owner : null,
    reservation: r.metadata.name!,
    resourceVersion: r.metadata.resourceVersion ?? '',
    ...(r.metadata.creationTimestamp ? { pinnedAt: r.metadata.creationTimestamp } : {}),
  };
}

function defaultHandle(owner: string | null | undefined): string | undefined {
  return owner ? `${PINNED_HANDLE_PREFIX}${owner}` : undefined;
}

function ownerText(owner: string | null): string {
  return owner ?? 'no particular owner';
}

/**
 * IP pinning over the client's resources and IPAM engine (`client.pinning`). See the module
 * notes for the stored objects and the race guarantees.
 *
 * @example
 * ```ts
 * await client.pinning.pin({ ip: '10.244.1.7', owner: 'web-0' });      // reserved for web-0
 * await client.pinning.assign({ ip: '10.244.1.7', owner: 'web-0', hostname: 'node-a',
 *   handleId: 'k8s-pod-network.abc123', attrs: { namespace: 'shop', pod: 'web-0' } });
 * (await client.pinning.owner('10.244.1.7')).allocation?.handleId;     // 'k8s-pod-network.abc123'
 * await client.ipam.releaseByHandle('k8s-pod-network.abc123');         // pod gone: still reserved
 * await client.pinning.unpin('10.244.1.7');                            // back to the pool
 * ```
 */
export class PinningClient {
  constructor(private readonly context: PinningContext) {}

  /**
   * Pins `ip` for `owner`: creates the IPReservation `pin-<address>` (label {@link PIN_LABEL},
   * owner in annotation {@link PIN_OWNER_ANNOTATION}), so auto-assignment never hands it out.
   * Idempotent for the same owner (the existing pin is returned, nothing written). Waits
   * `settleMs` (see the module notes), then checks that no allocation slipped in; if one did, the
   * reservation is removed again and the call fails.
   *
   * @throws ValidationError (nothing written) for a malformed `ip`, `owner`, `pool`, `handleId` or
   *   `settleMs`; {@link PinningError} (nothing written) with code `notInPool` (the address is in
   *   no pool, or not in `pool`), `wrongFamily` (no pool of the address's IP version, or `pool` is
   *   of the other version), `pinnedForOther` (pinned for another owner; also the loser of a
   *   concurrent pin), `allocated` (allocated to a handle other than `handleId` / `pinned.<owner>`,
   *   including an allocation that raced the pin), `foreignReservation`; datastore errors.
   */
  async pin(options: PinOptions): Promise<Pin> {
    const errors: FieldError[] = [];
    if (typeof options !== 'object' || options === null) throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object' }]);
    const ip = parseAddress(options.ip, 'ip', errors);
    const owner = checkName(options.owner, 'owner', errors, false) ? options.owner! : null;
    if (options.pool !== undefined) checkName(options.pool, 'pool', errors, true);
    if (options.handleId !== undefined) checkName(options.handleId, 'handleId', errors, true, 1024);
    checkSettle(options.settleMs, errors);
    if (errors.length > 0 || !ip) throw new ValidationError(errors);
    const text = ip.toString();
    await this.poolFor(ip, options.pool);
    const name = nameOf(ip);
    const existing = await this.readReservation(name);
    if (existing) return this.existingPin(existing, ip, owner);
    const allowed = new Set([options.handleId, defaultHandle(owner)].filter((h): h is string => h !== undefined));
    const before = await this.allocationOf(ip);
    if (before?.allocation && !allowed.has(before.allocation.handleId ?? '')) throw allocatedError(text, before.allocation.handleId);

    const reservation: IPReservation = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPReservation',
      metadata: {
        name,
        labels: { [PIN_LABEL]: 'true' },
        ...(owner ? { annotations: { [PIN_OWNER_ANNOTATION]: owner } } : {}),
      },
      spec: { reservedCIDRs: [hostCIDR(ip)] },
    };
    let created: IPReservation;
    try {
      created = await this.context.ipReservations.create(reservation);
    } catch (error) {
      if (!ResourceExistsError.isInstance(error)) throw error;
      // A concurrent pin won the compare-and-swap.
      const winner = await this.readReservation(name);
      if (!winner) throw error;
      return this.existingPin(winner, ip, owner, error);
    }
    const settle = options.settleMs ?? this.context.settleMs;
    if (settle > 0) await this.context.sleep(settle);
    let after: Awaited<ReturnType<PinningClient['allocationOf']>>;
    try {
      after = await this.allocationOf(ip);
    } catch (error) {
      await this.undo(created);
      throw error;
    }
    if (after?.allocation && !allowed.has(after.allocation.handleId ?? '')) {
      await this.undo(created);
      throw allocatedError(text, after.allocation.handleId, 'while it was being pinned');
    }
    return toPin(created, ip);
  }

  /**
   * Allocates the pinned `ip` to a workload: IPAM `assignIP` with `handleId` (default
   * `pinned.<owner>`) on `hostname`, attributes `{node: hostname, owner, ...attrs}`. Idempotent
   * for the same handle (nothing written, `created: false`).
   *
   * @throws ValidationError (nothing written) for malformed input, or neither `owner` nor
   *   `handleId`; {@link PinningError} with code `notPinned`, `pinnedForOther` (the pin's owner is
   *   not `owner`), `allocated` (held by another handle; also the loser of a concurrent assign),
   *   `poolDisabled`, `notInPool`; IPAM's errors of `assignIP` (`IPAMError` `notAllowedUse`,
   *   `affinityMismatch` under strict affinity, `IPInCooldownError`, ...).
   */
  async assign(options: AssignPinnedOptions): Promise<PinnedAssignment> {
    const errors: FieldError[] = [];
    if (typeof options !== 'object' || options === null) throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object' }]);
    const ip = parseAddress(options.ip, 'ip', errors);
    if (options.owner !== undefined) checkName(options.owner, 'owner', errors, true);
    checkName(options.hostname, 'hostname', errors, true);
    if (options.handleId !== undefined) checkName(options.handleId, 'handleId', errors, true, 1024);
    if (options.attrs !== undefined) {
      if (typeof options.attrs !== 'object' || options.attrs === null || Array.isArray(options.attrs)) {
        errors.push({ name: 'attrs', value: options.attrs, reason: 'must be a map of strings' });
      } else {
        for (const [k, v] of Object.entries(options.attrs)) {
          if (typeof v !== 'string' || k === '') errors.push({ name: `attrs.${k}`, value: v, reason: 'attribute names must be non-empty and values strings' });
        }
      }
    }
    if (options.handleId === undefined && options.owner === undefined) {
      errors.push({ name: 'handleId', value: undefined, reason: 'a handleId or an owner (handle pinned.<owner>) is required' });
    }
    if (errors.length > 0 || !ip) throw new ValidationError(errors);
    const text = ip.toString();
    const pin = await this.get(text);
    if (!pin) throw new PinningError('notPinned', text, { name: 'ip', value: text, reason: 'the address is not pinned' });
    if (pin.owner !== null && options.owner !== pin.owner) {
      throw new PinningError('pinnedForOther', text, { name: 'owner', value: options.owner, reason: `the address is pinned for ${pin.owner}` });
    }
    const pool = await this.poolFor(ip, undefined);
    if (pool.spec.disabled) throw new PinningError('poolDisabled', text, { name: 'ip', value: text, reason: `IP pool ${pool.metadata.name} is disabled` });
    const handleId = options.handleId ?? defaultHandle(options.owner)!;
    const current = await this.allocationOf(ip, pool);
    if (current?.allocation) {
      if (current.allocation.handleId === handleId) {
        return { ip: text, handleId, attrs: current.allocation.attrs, block: current.block.cidr, created: false, pin };
      }
      throw allocatedError(text, current.allocation.handleId);
    }
    const owner = options.owner ?? pin.owner;
    const attrs: Record<string, string> = {
      node: options.hostname,
      ...(owner ? { [PINNED_OWNER_ATTRIBUTE]: owner } : {}),
      ...(options.attrs ?? {}),
    };
    try {
      await this.context.ipam.assignIP({ ip: text, handleId, hostname: options.hostname, intendedUse: options.intendedUse ?? 'Workload', attrs });
    } catch (error) {
      if (!ResourceExistsError.isInstance(error)) throw error;
      // A concurrent assignment won the block compare-and-swap.
      const now = await this.allocationOf(ip, pool);
      if (now?.allocation?.handleId === handleId) {
        return { ip: text, handleId, attrs: now.allocation.attrs, block: now.block.cidr, created: false, pin };
      }
      throw allocatedError(text, now?.allocation?.handleId ?? null, undefined, error);
    }
    const stored = await this.allocationOf(ip, pool);
    return { ip: text, handleId, attrs: stored?.allocation?.attrs ?? attrs, block: stored?.block.cidr ?? '', created: true, pin };
  }

  /**
   * Removes the pin of `ip` (deletes its IPReservation, compare-and-swap on its revision). An
   * allocation of the address stays until released (`client.ipam.releaseByHandle`). Returns the
   * removed pin, or null when the address was not pinned.
   * @throws ValidationError for a malformed address; {@link PinningError} `pinnedForOther` when
   *   `owner` is given and the pin is someone else's (nothing deleted).
   */
  async unpin(ip: string, options: UnpinOptions = {}): Promise<Pin | null> {
    const errors: FieldError[] = [];
    const address = parseAddress(ip, 'ip', errors);
    if (options.owner !== undefined) checkName(options.owner, 'owner', errors, true);
    if (errors.length > 0 || !address) throw new ValidationError(errors);
    const name = nameOf(address);
    for (let attempt = 0; ; attempt++) {
      const r = await this.readReservation(name);
      if (!r || !isPinReservation(r)) return null;
      const pin = toPin(r, address);
      if (options.owner !== undefined && pin.owner !== options.owner) {
        throw new PinningError('pinnedForOther', pin.ip, { name: 'owner', value: options.owner, reason: `the address is pinned for ${ownerText(pin.owner)}` });
      }
      try {
        await this.context.ipReservations.delete(name, { resourceVersion: r.metadata.resourceVersion! });
        return pin;
      } catch (error) {
        if (ResourceNotFoundError.isInstance(error)) return null;
        if (!UpdateConflictError.isInstance(error) || attempt + 1 >= UNPIN_RETRIES) throw error;
      }
    }
  }

  /** The pin of `ip`, or null. @throws ValidationError for a malformed address. */
  async get(ip: string): Promise<Pin | null> {
    const errors: FieldError[] = [];
    const address = parseAddress(ip, 'ip', errors);
    if (!address) throw new ValidationError(errors);
    const r = await this.readReservation(nameOf(address));
    return r && isPinReservation(r) ? toPin(r, address) : null;
  }

  /** Every pin, in reservation-name order. */
  async list(): Promise<Pin[]> {
    const out: Pin[] = [];
    for (const r of (await this.context.ipReservations.list()).items) {
      if (!isPinReservation(r)) continue;
      const cidr = tryCIDR(r.spec.reservedCIDRs?.[0]);
      if (!cidr || cidr.size !== 1n) continue;
      out.push(toPin(r, cidr.network));
    }
    return out;
  }

  /**
   * Who owns `ip`: its pool and block (with the block's affinity), its IPAM allocation (handle,
   * attributes) or cooldown, its pin and the other IPReservations covering it, and the
   * WorkloadEndpoints that carry it. Reads only.
   * @throws ValidationError for a malformed address.
   */
  async owner(ip: string): Promise<AddressOwner> {
    const errors: FieldError[] = [];
    const address = parseAddress(ip, 'ip', errors);
    if (!address) throw new ValidationError(errors);
    const [pools, reservations, weps] = await Promise.all([
      this.context.ipPools.list(),
      this.context.ipReservations.list(),
      this.context.workloadEndpoints.list(),
    ]);
    const pool = pools.items.find((p) => covers(p.spec.cidr, address));
    const found = pool ? await this.allocationOf(address, pool) : undefined;
    const name = nameOf(address);
    let pin: Pin | null = null;
    const others: string[] = [];
    for (const r of reservations.items) {
      if (!(r.spec.reservedCIDRs ?? []).some((c) => covers(c, address))) continue;
      if (r.metadata.name === name && isPinReservation(r)) pin = toPin(r, address);
      else others.push(r.metadata.name!);
    }
    const carriers = (weps.items as WorkloadEndpoint[])
      .filter((w) => (w.spec.ipNetworks ?? []).some((n) => {
        const cidr = tryCIDR(n);
        return cidr !== undefined && cidr.version === address.version && cidr.network.value === address.value;
      }))
      .map((w) => `${w.metadata.namespace}/${w.metadata.name}`);
    return {
      ip: address.toString(),
      ipVersion: address.version,
      pool: pool ? { name: pool.metadata.name!, cidr: pool.spec.cidr, disabled: pool.spec.disabled === true } : null,
      block: found ? found.block : null,
      allocation: found?.allocation ?? null,
      releasedAt: found?.releasedAt ?? null,
      pin,
      reservations: others,
      workloadEndpoints: carriers,
    };
  }

  // -------------------------------------------------------------------------------------------

  private async readReservation(name: string): Promise<IPReservation | undefined> {
    try {
      return await this.context.ipReservations.get(name);
    } catch (error) {
      if (ResourceNotFoundError.isInstance(error)) return undefined;
      throw error;
    }
  }

  /** The answer of `pin` when the reservation exists already. */
  private existingPin(r: IPReservation, ip: IPAddress, owner: string | null, cause?: unknown): Pin {
    const text = ip.toString();
    if (!isPinReservation(r)) {
      throw new PinningError('foreignReservation', text, { name: 'ip', value: text, reason: `IPReservation ${r.metadata.name} exists but was not made by pinning` }, { cause });
    }
    const pin = toPin(r, ip);
    if (pin.owner !== owner) {
      throw new PinningError('pinnedForOther', text, { name: 'ip', value: text, reason: `already pinned for ${ownerText(pin.owner)}` }, { cause });
    }
    return pin;
  }

  /** The pool `ip` must be pinned in (fresh list); PinningError when there is none. */
  private async poolFor(ip: IPAddress, poolName: string | undefined): Promise<IPPool> {
    const text = ip.toString();
    const family = `IPv${ip.version}`;
    const pools = (await this.context.ipPools.list()).items;
    if (poolName !== undefined) {
      const pool = pools.find((p) => p.metadata.name === poolName);
      if (!pool) throw new PinningError('notInPool', text, { name: 'pool', value: poolName, reason: `there is no IP pool named ${poolName}` });
      const cidr = tryCIDR(pool.spec.cidr);
      if (cidr && cidr.version !== ip.version) {
        throw new PinningError('wrongFamily', text, { name: 'pool', value: poolName, reason: `an ${family} address cannot be pinned in IPv${cidr.version} pool ${poolName}` });
      }
      if (!covers(pool.spec.cidr, ip)) throw new PinningError('notInPool', text, { name: 'ip', value: text, reason: `the address is not in IP pool ${poolName} (${pool.spec.cidr})` });
      return pool;
    }
    const pool = pools.find((p) => covers(p.spec.cidr, ip));
    if (pool) return pool;
    if (!pools.some((p) => tryCIDR(p.spec.cidr)?.version === ip.version)) {
      throw new PinningError('wrongFamily', text, { name: 'ip', value: text, reason: `there is no ${family} IP pool` });
    }
    throw new PinningError('notInPool', text, { name: 'ip', value: text, reason: 'the address is not in any IP pool' });
  }

  /**
   * Reads the block of `ip` in `pool` (or in the pool containing it) directly from the
   * datastore: the allocation, cooldown and block affinity. Undefined when no pool contains it.
   */
  private async allocationOf(ip: IPAddress, pool?: IPPool): Promise<{ block: { cidr: string; exists: boolean; affinity: string | null }; allocation: AddressAllocation | null; releasedAt: string | null } | undefined> {
    if (!pool) pool = (await this.context.ipPools.list()).items.find((p) => covers(p.spec.cidr, ip));
    if (!pool) return undefined;
    const blockSize = pool.spec.blockSize ?? (ip.version === 4 ? 26 : 122);
    const cidr = blockContaining(ip, blockSize);
    let value: AllocationBlock | undefined;
    try {
      value = (await this.context.datastore.getKV({ type: 'block', cidr: cidr.toString() })).value;
    } catch (error) {
      if (!ResourceNotFoundError.isInstance(error)) throw error;
    }
    if (!value || value.deleted) return { block: { cidr: cidr.toString(), exists: false, affinity: null }, allocation: null, releasedAt: null };
    const block = { cidr: cidr.toString(), exists: true, affinity: value.affinity ?? null };
    const index = value.allocations[Number(ip.value - cidr.network.value)];
    if (index === null || index === undefined) return { block, allocation: null, releasedAt: null };
    const attr = value.attributes[index];
    if (!attr) return { block, allocation: { handleId: null, attrs: {}, alternateOwnerAttrs: {} }, releasedAt: null };
    if (attr.releasedAt !== undefined) return { block, allocation: null, releasedAt: attr.releasedAt };
    return {
      block,
      allocation: { handleId: sanitizeHandle(attr.handleId), attrs: { ...(attr.secondary ?? {}) }, alternateOwnerAttrs: { ...(attr.alternateOwnerAttrs ?? {}) } },
      releasedAt: null,
    };
  }

  /** Removes a reservation this call created (compare-and-swap on its revision). */
  private async undo(created: IPReservation): Promise<void> {
    try {
      await this.context.ipReservations.delete(created.metadata.name!, { resourceVersion: created.metadata.resourceVersion! });
    } catch (error) {
      if (!ResourceNotFoundError.isInstance(error) && !UpdateConflictError.isInstance(error)) {
        throw new CalicoError(`pin of ${created.spec.reservedCIDRs?.[0] ?? created.metadata.name} failed and its IPReservation ${created.metadata.name} could not be removed: ${(error as Error).message}`, { cause: error });
      }
    }
  }
}

function allocatedError(ip: string, handle: string | null, when?: string, cause?: unknown): PinningError {
  return new PinningError(
    'allocated',
    ip,
    { name: 'ip', value: ip, reason: `already allocated to handle ${handle ?? '<none>'}${when ? ` ${when}` : ''}; release it first` },
    { cause },
  );
}
