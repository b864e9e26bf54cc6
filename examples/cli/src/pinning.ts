/**
 * IP pinning for platforms that give a workload a stable address across restarts (Rainbond,
 * StatefulSet-like apps), on public libcalico-ts APIs only:
 *
 * - {@link pinAddress} reserves one address with an `IPReservation` (so `autoAssign` never hands
 *   it out) and records the owner it is pinned for in the reservation's annotations;
 * - {@link assignPinnedAddress} allocates the pinned address to that owner on request
 *   (`ipam.assignIP`, which is not bound by reservations), with a handle and attributes;
 * - {@link addressOwner} answers "who owns this address": the pin, the IPAM allocation (handle,
 *   attributes) and the WorkloadEndpoints that carry it;
 * - {@link unpinAddress} removes the reservation (an allocation made meanwhile stays).
 *
 * Reservation names are `pin-<address with . and : as ->` (`pin-10-244-1-7`).
 */
import { ResourceNotFoundError, ValidationError, type IPReservation, type WorkloadEndpoint } from '@libcalico-ts/api';
import type { Client } from '@libcalico-ts/client';
import type { AssignmentAttributes } from '@libcalico-ts/ipam';
import { parseCIDR, parseIP } from '@libcalico-ts/net';

/** Annotation holding the owner an address is pinned for. */
export const PIN_OWNER_ANNOTATION = 'libcalico-ts.io/pinned-owner';
/** Label marking reservations made by {@link pinAddress}. */
export const PIN_LABEL = 'libcalico-ts.io/pin';

/** A pinned address. */
export interface Pin {
  ip: string;
  /** The IPReservation holding it. */
  reservation: string;
  /** Who it is pinned for (absent: reserved for nobody in particular). */
  owner?: string;
}

/** Everything known about who owns an address. */
export interface AddressOwnership {
  ip: string;
  /** The pin covering the address, if any. */
  pin: Pin | null;
  /** Other IPReservations covering it (not made by pinning). */
  reservations: string[];
  /** The IPAM allocation (null when the address is not allocated). */
  allocation: AssignmentAttributes | null;
  /** `namespace/name` of WorkloadEndpoints listing the address in `ipNetworks`. */
  workloadEndpoints: string[];
}

/** Canonical text of an address; throws ValidationError for anything else (CIDRs included). */
function canonicalIP(ip: string): { text: string; family: 4 | 6 } {
  let parsed;
  try {
    parsed = parseIP(ip);
  } catch (error) {
    throw new ValidationError([{ name: 'ip', value: ip, reason: 'not an IP address' }], { cause: error });
  }
  return { text: parsed.toString(), family: parsed.version as 4 | 6 };
}

/** The reservation name used for a pinned address. */
export function pinReservationName(ip: string): string {
  return `pin-${canonicalIP(ip).text.replace(/[.:]/g, '-')}`;
}

function toPin(reservation: IPReservation, ip: string): Pin {
  const owner = reservation.metadata.annotations?.[PIN_OWNER_ANNOTATION];
  return { ip, reservation: reservation.metadata.name!, ...(owner ? { owner } : {}) };
}

/**
 * Pins an address: creates (or, for the same owner, keeps) its IPReservation.
 *
 * @throws ValidationError for a malformed address, an address outside every IP pool, an address
 *   already pinned for another owner, or already allocated to a handle other than `handleId`
 *   (release it first).
 */
export async function pinAddress(client: Client, options: { ip: string; owner?: string; handleId?: string }): Promise<Pin> {
  const { text, family } = canonicalIP(options.ip);
  const pools = (await client.ipPools.list()).items;
  const inPool = pools.some((p) => {
    try {
      return cidrContains(p.spec.cidr, text);
    } catch {
      return false;
    }
  });
  if (!inPool) throw new ValidationError([{ name: 'ip', value: text, reason: 'the address is not in any IP pool' }]);
  const name = pinReservationName(text);
  let existing: IPReservation | undefined;
  try {
    existing = await client.ipReservations.get(name);
  } catch (error) {
    if (!ResourceNotFoundError.isInstance(error)) throw error;
  }
  if (existing) {
    const pin = toPin(existing, text);
    if ((pin.owner ?? '') !== (options.owner ?? '')) {
      throw new ValidationError([{ name: 'ip', value: text, reason: `already pinned for ${pin.owner ?? 'no owner'}` }]);
    }
    return pin;
  }
  const allocation = await allocationOf(client, text);
  if (allocation && allocation.handleId !== (options.handleId ?? allocation.handleId)) {
    throw new ValidationError([{ name: 'ip', value: text, reason: `already assigned to handle ${allocation.handleId}; release it first` }]);
  }
  if (allocation && options.owner && !options.handleId && allocation.attrs.pod !== options.owner && allocation.handleId !== options.owner) {
    throw new ValidationError([{ name: 'ip', value: text, reason: `already assigned to handle ${allocation.handleId ?? '<none>'}; release it first` }]);
  }
  const reservation: IPReservation = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPReservation',
    metadata: {
      name,
      labels: { [PIN_LABEL]: 'true' },
      ...(options.owner ? { annotations: { [PIN_OWNER_ANNOTATION]: options.owner } } : {}),
    },
    spec: { reservedCIDRs: [`${text}/${family === 4 ? 32 : 128}`] },
  };
  const created = await client.ipReservations.create(reservation);
  return toPin(created, text);
}

/**
 * Removes the pin of an address. Returns false when it was not pinned.
 * @throws ValidationError for a malformed address.
 */
export async function unpinAddress(client: Client, ip: string): Promise<boolean> {
  try {
    await client.ipReservations.delete(pinReservationName(ip));
    return true;
  } catch (error) {
    if (ResourceNotFoundError.isInstance(error)) return false;
    throw error;
  }
}

/**
 * Allocates a pinned address to its owner (idempotent for the same handle).
 *
 * @param options.handleId Calico handle (default `pinned.<owner>`); `hostname` the node whose
 *   affinity is used; `attrs` extra owner attributes (`pod`, `namespace`, ...).
 * @throws ValidationError when the address is not pinned, pinned for another owner, or allocated
 *   to another handle; the IPAM errors of `assignIP` otherwise.
 */
export async function assignPinnedAddress(
  client: Client,
  options: { ip: string; owner: string; hostname: string; handleId?: string; attrs?: Record<string, string> },
): Promise<AssignmentAttributes> {
  const { text } = canonicalIP(options.ip);
  const pin = await findPin(client, text);
  if (!pin) throw new ValidationError([{ name: 'ip', value: text, reason: 'the address is not pinned' }]);
  if (pin.owner && pin.owner !== options.owner) {
    throw new ValidationError([{ name: 'owner', value: options.owner, reason: `${text} is pinned for ${pin.owner}` }]);
  }
  const handleId = options.handleId ?? `pinned.${options.owner}`;
  const current = await allocationOf(client, text);
  if (current) {
    if (current.handleId === handleId) return current;
    throw new ValidationError([{ name: 'ip', value: text, reason: `already assigned to handle ${current.handleId ?? '<none>'}` }]);
  }
  await client.ipam.assignIP({
    ip: text,
    handleId,
    hostname: options.hostname,
    intendedUse: 'Workload',
    attrs: { node: options.hostname, owner: options.owner, ...(options.attrs ?? {}) },
  });
  return (await allocationOf(client, text))!;
}

async function findPin(client: Client, ip: string): Promise<Pin | null> {
  try {
    return toPin(await client.ipReservations.get(pinReservationName(ip)), ip);
  } catch (error) {
    if (ResourceNotFoundError.isInstance(error)) return null;
    throw error;
  }
}

async function allocationOf(client: Client, ip: string): Promise<AssignmentAttributes | null> {
  try {
    return await client.ipam.getAssignmentAttributes(ip);
  } catch (error) {
    if (ResourceNotFoundError.isInstance(error)) return null;
    throw error;
  }
}

function cidrContains(cidr: string, ip: string): boolean {
  const network = parseCIDR(cidr);
  const address = parseIP(ip);
  return network.version === address.version && network.contains(address);
}

/**
 * Who owns `ip`: its pin, other reservations covering it, its IPAM allocation and the
 * WorkloadEndpoints carrying it.
 * @throws ValidationError for a malformed address.
 */
export async function addressOwner(client: Client, ip: string): Promise<AddressOwnership> {
  const { text } = canonicalIP(ip);
  const pin = await findPin(client, text);
  const reservations = (await client.ipReservations.list()).items
    .filter((r) => r.metadata.name !== pin?.reservation)
    .filter((r) => (r.spec.reservedCIDRs ?? []).some((c) => {
      try {
        return cidrContains(c, text);
      } catch {
        return false;
      }
    }))
    .map((r) => r.metadata.name!);
  const allocation = await allocationOf(client, text);
  const weps = ((await client.workloadEndpoints.list()).items as WorkloadEndpoint[])
    .filter((w) => (w.spec.ipNetworks ?? []).some((n) => {
      try {
        return canonicalIP(String(n).split('/')[0]!).text === text;
      } catch {
        return false;
      }
    }))
    .map((w) => `${w.metadata.namespace}/${w.metadata.name}`);
  return { ip: text, pin, reservations, allocation, workloadEndpoints: weps };
}
