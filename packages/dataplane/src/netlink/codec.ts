/**
 * rtnetlink wire format: message headers (ifinfomsg, ifaddrmsg, rtmsg, ndmsg) and attributes.
 * Pure functions over Buffers (host byte order, as netlink requires; addresses in network order).
 * Used by {@link NetlinkClient}; exported for tests.
 * @internal
 */

/** rtnetlink message types (linux/rtnetlink.h). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
  NEWNEIGH: 28,
  DELNEIGH: 29,
  GETNEIGH: 30,
} as const;

/** Netlink header flags. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  APPEND: 0x800,
} as const;

export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  MASTER: 10,
  TXQLEN: 13,
  OPERSTATE: 16,
  LINKINFO: 18,
  NET_NS_FD: 28,
  NUM_TX_QUEUES: 31,
  NUM_RX_QUEUES: 32,
  LINK_NETNSID: 37,
} as const;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
export const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PORT: 15, LOCAL6: 17 } as const;
export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;

export const IFA = { ADDRESS: 1, LOCAL: 2, LABEL: 3, FLAGS: 8 } as const;
export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;

export const RTA = { DST: 1, SRC: 2, OIF: 4, GATEWAY: 5, PRIORITY: 6, PREFSRC: 7, METRICS: 8, MULTIPATH: 9, TABLE: 15 } as const;
export const RTAX_MTU = 2;
export const RTNH_F_ONLINK = 0x4;
export const RTM_F_CLONED = 0x200;

export const NDA = { DST: 1, LLADDR: 2, VNI: 7, IFINDEX: 8, MASTER: 9 } as const;
export const NUD = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;

/** Route scopes by name. */
export const ROUTE_SCOPES = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;
/** Route types by name. */
export const ROUTE_TYPES = {
  unspec: 0,
  unicast: 1,
  local: 2,
  broadcast: 3,
  anycast: 4,
  multicast: 5,
  blackhole: 6,
  unreachable: 7,
  prohibit: 8,
  throw: 9,
} as const;

// ---------------------------------------------------------------- attributes

/** An attribute to encode: raw payload or nested attributes. */
export type AttrInput = readonly [type: number, payload: Buffer | readonly AttrInput[]];

const align4 = (n: number) => (n + 3) & ~3;

/** Encodes attributes as a TLV stream (each padded to 4 bytes). */
export function encodeAttrs(attrs: readonly AttrInput[]): Buffer {
  const parts: Buffer[] = [];
  for (const [type, payload] of attrs) {
    const body = Buffer.isBuffer(payload) ? payload : encodeAttrs(payload);
    const header = Buffer.alloc(4);
    header.writeUInt16LE(4 + body.length, 0);
    header.writeUInt16LE(type, 2);
    parts.push(header, body);
    const pad = align4(body.length) - body.length;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  return Buffer.concat(parts);
}

/** Decodes a TLV stream into a map type → payload (type masked to 14 bits; last one wins). */
export function decodeAttrs(buf: Buffer, offset = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let pos = offset;
  while (pos + 4 <= buf.length) {
    const len = buf.readUInt16LE(pos);
    if (len < 4 || pos + len > buf.length) break;
    const type = buf.readUInt16LE(pos + 2) & 0x3fff;
    out.set(type, buf.subarray(pos + 4, pos + len));
    pos += align4(len);
  }
  return out;
}

export const u8 = (v: number) => Buffer.from([v & 0xff]);
export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}
export function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}
/** NUL-terminated string payload. */
export const str = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
export const readStr = (b: Buffer) => {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul < 0 ? b.length : nul);
};

// ---------------------------------------------------------------- fixed headers

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(fields: { family?: number; type?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(fields.family ?? AF_UNSPEC, 0);
  b.writeUInt16LE(fields.type ?? 0, 2);
  b.writeInt32LE(fields.index ?? 0, 4);
  b.writeUInt32LE((fields.flags ?? 0) >>> 0, 8);
  b.writeUInt32LE((fields.change ?? 0) >>> 0, 12);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(fields: { family: number; prefixLength: number; flags?: number; scope?: number; index: number }): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(fields.family, 0);
  b.writeUInt8(fields.prefixLength, 1);
  b.writeUInt8(fields.flags ?? 0, 2);
  b.writeUInt8(fields.scope ?? 0, 3);
  b.writeUInt32LE(fields.index, 4);
  return b;
}

/** struct rtmsg (12 bytes). */
export function rtmsg(fields: {
  family: number;
  dstLength?: number;
  table?: number;
  protocol?: number;
  scope?: number;
  type?: number;
  flags?: number;
}): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(fields.family, 0);
  b.writeUInt8(fields.dstLength ?? 0, 1);
  b.writeUInt8(0, 2); // src_len
  b.writeUInt8(0, 3); // tos
  b.writeUInt8(fields.table !== undefined && fields.table < 256 ? fields.table : 0, 4);
  b.writeUInt8(fields.protocol ?? 0, 5);
  b.writeUInt8(fields.scope ?? 0, 6);
  b.writeUInt8(fields.type ?? 0, 7);
  b.writeUInt32LE((fields.flags ?? 0) >>> 0, 8);
  return b;
}

/** struct ndmsg (12 bytes). */
export function ndmsg(fields: { family: number; index?: number; state?: number; flags?: number; type?: number }): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt8(fields.family, 0);
  b.writeInt32LE(fields.index ?? 0, 4);
  b.writeUInt16LE(fields.state ?? 0, 8);
  b.writeUInt8(fields.flags ?? 0, 10);
  b.writeUInt8(fields.type ?? 0, 11);
  return b;
}

/** Reads a NLMSG_ERROR payload: 0 for an ACK, otherwise the positive errno. */
export function readErrno(data: Buffer): number {
  return -data.readInt32LE(0);
}
