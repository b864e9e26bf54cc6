/**
 * {@link NetlinkClient}: the dataplane verbs over an rtnetlink socket of the current network
 * namespace, on the `netlink` npm package's socket layer (sequence numbers, multipart dumps, ACKs)
 * with this package's own encoding of the rtnetlink messages (the package leaves IFLA_LINKINFO,
 * veth peers and VXLAN data unparsed).
 */
import { openSync, closeSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { createNetlink, Protocol, type NetlinkSocket, type NetlinkMessage } from 'netlink';
import { ResourceExistsError, ResourceNotFoundError } from '@libcalico-ts/api';
import { KernelNotSupportedError, NetlinkError } from '../errors.js';
import { requireNetns } from '../netns.js';
import { normalizeRoute, reconcileRoutes, type NormalizedRoute } from '../routes.js';
import { readSysctl, writeSysctl } from '../sysctl.js';
import type {
  AddressInfo,
  FdbInfo,
  FdbSpec,
  LinkInfo,
  NeighbourInfo,
  NeighbourSpec,
  NetlinkOps,
  ReconcileOptions,
  RouteChanges,
  RouteDiff,
  RouteFilter,
  RouteInfo,
  RouteScopeName,
  RouteSpec,
  RouteTypeName,
  VethPairOptions,
  VxlanOptions,
} from '../types.js';
import { formatIP, formatMac, invalid, parseCidr, parseIP, parseMac, validateInterfaceName, validateMtu, type IPFamily } from '../validate.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  IFA,
  IFA_F_NODAD,
  IFF_LOWER_UP,
  IFF_UP,
  IFLA,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_VXLAN,
  NDA,
  NLMSG_ERROR,
  NLM_F,
  NTF_SELF,
  NUD,
  ROUTE_SCOPES,
  ROUTE_TYPES,
  RTA,
  RTAX_MTU,
  RTM,
  RTM_F_CLONED,
  RTNH_F_ONLINK,
  VETH_INFO_PEER,
  decodeAttrs,
  encodeAttrs,
  ifaddrmsg,
  ifinfomsg,
  ndmsg,
  readErrno,
  readStr,
  rtmsg,
  str,
  u16be,
  u32,
  u8,
  type AttrInput,
} from './codec.js';

const SCOPE_NAMES = new Map<number, RouteScopeName>(Object.entries(ROUTE_SCOPES).map(([k, v]) => [v, k as RouteScopeName]));
const TYPE_NAMES = new Map<number, RouteTypeName>(Object.entries(ROUTE_TYPES).map(([k, v]) => [v, k as RouteTypeName]));
const famToAf = (f: IPFamily) => (f === 4 ? AF_INET : AF_INET6);
const afToFam = (af: number): IPFamily => (af === AF_INET ? 4 : 6);

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `E${errno}`;
  }
}

/** Options of {@link NetlinkClient}. */
export interface NetlinkClientOptions {
  /** Requests in flight at once in {@link NetlinkClient.applyRouteChanges} (default 128). */
  pipelineDepth?: number;
  /** Per-request timeout in milliseconds (default 10000). */
  timeoutMs?: number;
}

/**
 * The dataplane verbs for the network namespace of this process, over one rtnetlink socket
 * (opened lazily, closed by {@link close}). Operations are serialised; {@link applyRouteChanges}
 * pipelines its requests. For another namespace use {@link openNetns}.
 *
 * @example
 * ```ts
 * const nl = new NetlinkClient();
 * await nl.createVethPair({ name: 'cali1234567890a', peerName: 'eth0', peerNetns: 'pod1', mtu: 1450 });
 * await nl.replaceRoute({ dst: '10.244.1.5/32', dev: 'cali1234567890a' });
 * await nl.close();
 * ```
 */
export class NetlinkClient implements NetlinkOps {
  private socket: NetlinkSocket | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly depth: number;
  private readonly timeoutMs: number;

  constructor(options: NetlinkClientOptions = {}) {
    this.depth = options.pipelineDepth ?? 128;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  private sock(): NetlinkSocket {
    if (!this.socket) {
      this.socket = createNetlink(Protocol.ROUTE, { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    }
    return this.socket;
  }

  /** Runs `fn` after every earlier operation finished (one operation at a time per socket). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Sends one request; resolves with the reply messages (empty for an ACK) or an errno. */
  private async send(type: number, flags: number, payload: Buffer): Promise<{ errno: number; msgs: NetlinkMessage[] }> {
    const [msgs] = await this.sock().request(type, payload, { flags, checkError: false, timeout: this.timeoutMs });
    if (msgs.length > 0 && msgs[0]!.type === NLMSG_ERROR) return { errno: readErrno(msgs[0]!.data), msgs: [] };
    return { errno: 0, msgs };
  }

  private async call(type: number, flags: number, payload: Buffer, operation: string): Promise<NetlinkMessage[]> {
    const { errno, msgs } = await this.send(type, flags, payload);
    if (errno !== 0) throw new NetlinkError(operation, errno, errnoName(errno));
    return msgs;
  }

  private async dump(type: number, header: Buffer, operation: string, attrs: AttrInput[] = []): Promise<NetlinkMessage[]> {
    return this.call(type, NLM_F.DUMP, Buffer.concat([header, encodeAttrs(attrs)]), operation);
  }

  // ------------------------------------------------------------------ links

  private parseLink(data: Buffer): LinkInfo {
    const index = data.readInt32LE(4);
    const flags = data.readUInt32LE(8);
    const attrs = decodeAttrs(data, 16);
    const address = attrs.get(IFLA.ADDRESS);
    const link: LinkInfo = {
      index,
      name: readStr(attrs.get(IFLA.IFNAME) ?? Buffer.alloc(0)),
      kind: null,
      mtu: attrs.get(IFLA.MTU)?.readUInt32LE(0) ?? 0,
      mac: address && address.length === 6 ? formatMac(address) : null,
      up: (flags & IFF_UP) !== 0,
      lowerUp: (flags & IFF_LOWER_UP) !== 0,
    };
    const parent = attrs.get(IFLA.LINK);
    if (parent) link.parentIndex = parent.readInt32LE(0);
    const nsid = attrs.get(IFLA.LINK_NETNSID);
    if (nsid) link.linkNetnsId = nsid.readInt32LE(0);
    const info = attrs.get(IFLA.LINKINFO);
    if (info) {
      const infoAttrs = decodeAttrs(info);
      const kind = infoAttrs.get(IFLA_INFO_KIND);
      if (kind) link.kind = readStr(kind);
      const data2 = infoAttrs.get(IFLA_INFO_DATA);
      if (link.kind === 'vxlan' && data2) {
        const v = decodeAttrs(data2);
        const vx: NonNullable<LinkInfo['vxlan']> = {
          vni: v.get(IFLA_VXLAN.ID)?.readUInt32LE(0) ?? 0,
          port: v.get(IFLA_VXLAN.PORT)?.readUInt16BE(0) ?? 0,
          learning: (v.get(IFLA_VXLAN.LEARNING)?.readUInt8(0) ?? 1) !== 0,
        };
        const local = v.get(IFLA_VXLAN.LOCAL) ?? v.get(IFLA_VXLAN.LOCAL6);
        if (local) vx.local = formatIP(local);
        const parentIndex = v.get(IFLA_VXLAN.LINK);
        if (parentIndex && parentIndex.readUInt32LE(0) !== 0) vx.parentIndex = parentIndex.readUInt32LE(0);
        link.vxlan = vx;
      }
    }
    return link;
  }

  private async findLinkRaw(name: string): Promise<LinkInfo | null> {
    const { errno, msgs } = await this.send(RTM.GETLINK, 0, Buffer.concat([ifinfomsg({}), encodeAttrs([[IFLA.IFNAME, str(name)]])]));
    if (errno === 19 /* ENODEV */) return null;
    if (errno !== 0) throw new NetlinkError(`get link ${name}`, errno, errnoName(errno));
    return msgs[0] ? this.parseLink(msgs[0].data) : null;
  }

  private async linkIndex(name: string, field = 'link'): Promise<number> {
    validateInterfaceName(name, field);
    const link = await this.findLinkRaw(name);
    if (!link) throw new ResourceNotFoundError(`link ${name}`, { message: `interface does not exist: ${name}` });
    return link.index;
  }

  private async listLinksRaw(): Promise<LinkInfo[]> {
    const msgs = await this.dump(RTM.GETLINK, ifinfomsg({}), 'list links');
    return msgs.map((m) => this.parseLink(m.data));
  }

  listLinks(): Promise<LinkInfo[]> {
    return this.exclusive(() => this.listLinksRaw());
  }

  findLink(name: string): Promise<LinkInfo | null> {
    validateInterfaceName(name);
    return this.exclusive(() => this.findLinkRaw(name));
  }

  getLink(name: string): Promise<LinkInfo> {
    validateInterfaceName(name);
    return this.exclusive(async () => {
      const link = await this.findLinkRaw(name);
      if (!link) throw new ResourceNotFoundError(`link ${name}`, { message: `interface does not exist: ${name}` });
      return link;
    });
  }

  /** Creates a link with RTM_NEWLINK|CREATE|EXCL; maps EEXIST and unknown kinds. */
  private async newLink(name: string, kind: string, attrs: AttrInput[], infoData: AttrInput[] | null): Promise<LinkInfo> {
    const linkinfo: AttrInput[] = [[IFLA_INFO_KIND, str(kind)]];
    if (infoData) linkinfo.push([IFLA_INFO_DATA, infoData]);
    const payload = Buffer.concat([ifinfomsg({}), encodeAttrs([[IFLA.IFNAME, str(name)], ...attrs, [IFLA.LINKINFO, linkinfo]])]);
    const { errno } = await this.send(RTM.NEWLINK, NLM_F.CREATE | NLM_F.EXCL, payload);
    if (errno === 17) throw new ResourceExistsError(`link ${name}`, { message: `interface already exists: ${name}`, cause: new NetlinkError(`create ${kind} ${name}`, errno, 'EEXIST') });
    if (errno === 95 /* EOPNOTSUPP */ || errno === 93 /* EPROTONOSUPPORT */) {
      throw new KernelNotSupportedError(kind, { message: `${kind} devices are not supported by this kernel (module not available)`, cause: new NetlinkError(`create ${kind} ${name}`, errno, errnoName(errno)) });
    }
    if (errno !== 0) throw new NetlinkError(`create ${kind} ${name}`, errno, errnoName(errno));
    const link = await this.findLinkRaw(name);
    if (!link) throw new NetlinkError(`create ${kind} ${name}`, 19, 'ENODEV');
    return link;
  }

  createVethPair(options: VethPairOptions): Promise<LinkInfo> {
    validateInterfaceName(options?.name, 'name');
    validateInterfaceName(options.peerName, 'peerName');
    if (options.mtu !== undefined) validateMtu(options.mtu);
    const mac = options.mac !== undefined ? parseMac(options.mac, 'mac') : undefined;
    const peerMac = options.peerMac !== undefined ? parseMac(options.peerMac, 'peerMac') : undefined;
    const queues = options.numQueues ?? 1;
    if (!Number.isInteger(queues) || queues < 1 || queues > 256) invalid('numQueues', options.numQueues, 'must be an integer 1..256');
    if (options.peerNetns === undefined && options.peerName === options.name) invalid('peerName', options.peerName, 'both ends have the same name in the same namespace');
    const nsPath = options.peerNetns !== undefined ? requireNetns(options.peerNetns, 'peerNetns') : undefined;
    return this.exclusive(async () => {
      const fd = nsPath !== undefined ? openSync(nsPath, 'r') : undefined;
      try {
        const common: AttrInput[] = [];
        if (options.mtu !== undefined) common.push([IFLA.MTU, u32(options.mtu)]);
        common.push([IFLA.NUM_TX_QUEUES, u32(queues)], [IFLA.NUM_RX_QUEUES, u32(queues)]);
        const peerAttrs: AttrInput[] = [[IFLA.IFNAME, str(options.peerName)], ...common];
        if (peerMac) peerAttrs.push([IFLA.ADDRESS, peerMac]);
        if (fd !== undefined) peerAttrs.push([IFLA.NET_NS_FD, u32(fd)]);
        const localAttrs = [...common];
        if (mac) localAttrs.push([IFLA.ADDRESS, mac]);
        const peer = Buffer.concat([ifinfomsg({}), encodeAttrs(peerAttrs)]);
        return await this.newLink(options.name, 'veth', localAttrs, [[VETH_INFO_PEER, peer]]);
      } catch (error) {
        if (ResourceExistsError.isInstance(error)) {
          throw new ResourceExistsError(`link ${options.name}`, {
            message: `cannot create veth ${options.name}/${options.peerName}: an interface with one of these names already exists${options.peerNetns ? ` (peer namespace ${options.peerNetns})` : ''}`,
            cause: error,
          });
        }
        throw error;
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    });
  }

  createVxlan(options: VxlanOptions): Promise<LinkInfo> {
    validateInterfaceName(options?.name, 'name');
    const vni = options.vni ?? 4096;
    const port = options.port ?? 4789;
    if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) invalid('vni', options.vni, 'VNI must be 0..16777215');
    if (!Number.isInteger(port) || port < 1 || port > 65535) invalid('port', options.port, 'port must be 1..65535');
    if (options.mtu !== undefined) validateMtu(options.mtu);
    const mac = options.mac !== undefined ? parseMac(options.mac) : undefined;
    const local = options.local !== undefined ? parseIP(options.local, 'local') : undefined;
    if (options.parent !== undefined) validateInterfaceName(options.parent, 'parent');
    return this.exclusive(async () => {
      const data: AttrInput[] = [
        [IFLA_VXLAN.ID, u32(vni)],
        [IFLA_VXLAN.PORT, u16be(port)],
        [IFLA_VXLAN.LEARNING, u8(options.learning ? 1 : 0)],
      ];
      if (local) data.push([local.family === 4 ? IFLA_VXLAN.LOCAL : IFLA_VXLAN.LOCAL6, local.bytes]);
      if (options.parent !== undefined) data.push([IFLA_VXLAN.LINK, u32(await this.linkIndex(options.parent, 'parent'))]);
      const attrs: AttrInput[] = [];
      if (options.mtu !== undefined) attrs.push([IFLA.MTU, u32(options.mtu)]);
      if (mac) attrs.push([IFLA.ADDRESS, mac]);
      return this.newLink(options.name, 'vxlan', attrs, data);
    });
  }

  createIpip(options: { name: string; mtu?: number }): Promise<LinkInfo> {
    validateInterfaceName(options?.name, 'name');
    if (options.mtu !== undefined) validateMtu(options.mtu);
    return this.exclusive(() => this.newLink(options.name, 'ipip', options.mtu !== undefined ? [[IFLA.MTU, u32(options.mtu)]] : [], null));
  }

  createDummy(options: { name: string; mtu?: number; mac?: string }): Promise<LinkInfo> {
    validateInterfaceName(options?.name, 'name');
    const attrs: AttrInput[] = [];
    if (options.mtu !== undefined) attrs.push([IFLA.MTU, u32(validateMtu(options.mtu))]);
    if (options.mac !== undefined) attrs.push([IFLA.ADDRESS, parseMac(options.mac)]);
    return this.exclusive(() => this.newLink(options.name, 'dummy', attrs, null));
  }

  private async setLink(name: string, operation: string, header: { flags?: number; change?: number }, attrs: AttrInput[]): Promise<void> {
    const index = await this.linkIndex(name);
    const payload = Buffer.concat([ifinfomsg({ index, ...header }), encodeAttrs(attrs)]);
    const { errno } = await this.send(RTM.NEWLINK, 0, payload);
    if (errno === 17) throw new ResourceExistsError(`link`, { message: `${operation}: name already in use`, cause: new NetlinkError(operation, errno, 'EEXIST') });
    if (errno !== 0) throw new NetlinkError(operation, errno, errnoName(errno));
  }

  setLinkUp(name: string): Promise<void> {
    validateInterfaceName(name);
    return this.exclusive(() => this.setLink(name, `set ${name} up`, { flags: IFF_UP, change: IFF_UP }, []));
  }

  setLinkDown(name: string): Promise<void> {
    validateInterfaceName(name);
    return this.exclusive(() => this.setLink(name, `set ${name} down`, { flags: 0, change: IFF_UP }, []));
  }

  setLinkMtu(name: string, mtu: number): Promise<void> {
    validateInterfaceName(name);
    validateMtu(mtu);
    return this.exclusive(() => this.setLink(name, `set ${name} mtu ${mtu}`, {}, [[IFLA.MTU, u32(mtu)]]));
  }

  setLinkMac(name: string, mac: string): Promise<void> {
    validateInterfaceName(name);
    const bytes = parseMac(mac);
    return this.exclusive(() => this.setLink(name, `set ${name} address ${mac}`, {}, [[IFLA.ADDRESS, bytes]]));
  }

  renameLink(name: string, newName: string): Promise<void> {
    validateInterfaceName(name);
    validateInterfaceName(newName, 'newName');
    return this.exclusive(() => this.setLink(name, `rename ${name} to ${newName}`, {}, [[IFLA.IFNAME, str(newName)]]));
  }

  moveLinkToNetns(name: string, netns: string): Promise<void> {
    validateInterfaceName(name);
    const path = requireNetns(netns);
    return this.exclusive(async () => {
      const fd = openSync(path, 'r');
      try {
        await this.setLink(name, `move ${name} to netns ${netns}`, {}, [[IFLA.NET_NS_FD, u32(fd)]]);
      } finally {
        closeSync(fd);
      }
    });
  }

  deleteLink(name: string, options: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    validateInterfaceName(name);
    return this.exclusive(async () => {
      const link = await this.findLinkRaw(name);
      if (!link) {
        if (options.ignoreMissing) return false;
        throw new ResourceNotFoundError(`link ${name}`, { message: `interface does not exist: ${name}` });
      }
      const { errno } = await this.send(RTM.DELLINK, 0, ifinfomsg({ index: link.index }));
      if (errno === 19 && options.ignoreMissing) return false;
      if (errno !== 0) throw new NetlinkError(`delete link ${name}`, errno, errnoName(errno));
      return true;
    });
  }

  // ------------------------------------------------------------------ addresses

  listAddresses(filter: { link?: string; family?: IPFamily } = {}): Promise<AddressInfo[]> {
    if (filter.link !== undefined) validateInterfaceName(filter.link, 'link');
    return this.exclusive(async () => {
      const names = new Map((await this.listLinksRaw()).map((l) => [l.index, l.name]));
      const index = filter.link !== undefined ? await this.linkIndex(filter.link) : undefined;
      const msgs = await this.dump(RTM.GETADDR, ifaddrmsg({ family: filter.family ? famToAf(filter.family) : AF_UNSPEC, prefixLength: 0, index: 0 }), 'list addresses');
      const out: AddressInfo[] = [];
      for (const m of msgs) {
        const d = m.data;
        const family = d.readUInt8(0);
        if (family !== AF_INET && family !== AF_INET6) continue;
        const idx = d.readUInt32LE(4);
        if (index !== undefined && idx !== index) continue;
        if (filter.family && afToFam(family) !== filter.family) continue;
        const attrs = decodeAttrs(d, 8);
        const addr = attrs.get(IFA.LOCAL) ?? attrs.get(IFA.ADDRESS);
        if (!addr) continue;
        const address = formatIP(addr);
        const prefixLength = d.readUInt8(1);
        const info: AddressInfo = { index: idx, family: afToFam(family), address, prefixLength, cidr: `${address}/${prefixLength}`, scope: d.readUInt8(3) };
        const name = names.get(idx);
        if (name !== undefined) info.link = name;
        out.push(info);
      }
      return out;
    });
  }

  addAddress(link: string, cidr: string, options: { noDad?: boolean } = {}): Promise<void> {
    validateInterfaceName(link, 'link');
    const c = parseCidr(cidr, 'cidr');
    return this.exclusive(async () => {
      const index = await this.linkIndex(link);
      const flags = options.noDad && c.family === 6 ? IFA_F_NODAD : 0;
      const payload = Buffer.concat([
        ifaddrmsg({ family: famToAf(c.family), prefixLength: c.prefixLength, flags, index }),
        encodeAttrs([[IFA.LOCAL, c.bytes], [IFA.ADDRESS, c.bytes]]),
      ]);
      await this.call(RTM.NEWADDR, NLM_F.CREATE | NLM_F.REPLACE, payload, `add address ${cidr} to ${link}`);
    });
  }

  deleteAddress(link: string, cidr: string, options: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    validateInterfaceName(link, 'link');
    const c = parseCidr(cidr, 'cidr');
    return this.exclusive(async () => {
      const index = await this.linkIndex(link);
      const payload = Buffer.concat([
        ifaddrmsg({ family: famToAf(c.family), prefixLength: c.prefixLength, index }),
        encodeAttrs([[IFA.LOCAL, c.bytes], [IFA.ADDRESS, c.bytes]]),
      ]);
      const { errno } = await this.send(RTM.DELADDR, 0, payload);
      if (errno === 99 /* EADDRNOTAVAIL */ || errno === 19) {
        if (options.ignoreMissing) return false;
        throw new ResourceNotFoundError(`address ${cidr} on ${link}`, { message: `address ${cidr} is not on ${link}` });
      }
      if (errno !== 0) throw new NetlinkError(`delete address ${cidr} from ${link}`, errno, errnoName(errno));
      return true;
    });
  }

  // ------------------------------------------------------------------ routes

  private parseRoute(data: Buffer, names: Map<number, string>): RouteInfo | null {
    const af = data.readUInt8(0);
    if (af !== AF_INET && af !== AF_INET6) return null;
    const flags = data.readUInt32LE(8);
    if (flags & RTM_F_CLONED) return null;
    const attrs = decodeAttrs(data, 12);
    const family = afToFam(af);
    const dstLength = data.readUInt8(1);
    const dst = attrs.get(RTA.DST);
    const dstText = dst ? formatIP(dst) : family === 4 ? '0.0.0.0' : '::';
    const tableAttr = attrs.get(RTA.TABLE);
    const route: RouteInfo = {
      dst: `${dstText}/${dstLength}`,
      family,
      type: TYPE_NAMES.get(data.readUInt8(7)) ?? 'unicast',
      onlink: (flags & RTNH_F_ONLINK) !== 0,
      protocol: data.readUInt8(5),
      scope: SCOPE_NAMES.get(data.readUInt8(6)) ?? 'universe',
      metric: attrs.get(RTA.PRIORITY)?.readUInt32LE(0) ?? 0,
      table: tableAttr ? tableAttr.readUInt32LE(0) : data.readUInt8(4),
    };
    const oif = attrs.get(RTA.OIF);
    if (oif) {
      route.ifIndex = oif.readUInt32LE(0);
      const name = names.get(route.ifIndex);
      if (name !== undefined) route.dev = name;
    }
    const gw = attrs.get(RTA.GATEWAY);
    if (gw) route.gateway = formatIP(gw);
    const src = attrs.get(RTA.PREFSRC);
    if (src) route.src = formatIP(src);
    const metrics = attrs.get(RTA.METRICS);
    if (metrics) {
      const mtu = decodeAttrs(metrics).get(RTAX_MTU);
      if (mtu && mtu.readUInt32LE(0) !== 0) route.mtu = mtu.readUInt32LE(0);
    }
    return route;
  }

  private async listRoutesRaw(filter: RouteFilter): Promise<RouteInfo[]> {
    const names = new Map((await this.listLinksRaw()).map((l) => [l.index, l.name]));
    const table = filter.table ?? 254;
    let devIndex: number | undefined;
    if (filter.dev !== undefined) devIndex = await this.linkIndex(filter.dev, 'dev');
    const msgs = await this.dump(RTM.GETROUTE, rtmsg({ family: filter.family ? famToAf(filter.family) : AF_UNSPEC }), 'list routes');
    const out: RouteInfo[] = [];
    for (const m of msgs) {
      const r = this.parseRoute(m.data, names);
      if (!r) continue;
      if (table !== 'all' && r.table !== table) continue;
      if (filter.family && r.family !== filter.family) continue;
      if (filter.protocol !== undefined && r.protocol !== filter.protocol) continue;
      if (devIndex !== undefined && r.ifIndex !== devIndex) continue;
      out.push(r);
    }
    return out;
  }

  listRoutes(filter: RouteFilter = {}): Promise<RouteInfo[]> {
    if (filter.dev !== undefined) validateInterfaceName(filter.dev, 'dev');
    return this.exclusive(() => this.listRoutesRaw(filter));
  }

  private encodeRoute(r: NormalizedRoute, index: number | undefined, forDelete: boolean): Buffer {
    const attrs: AttrInput[] = [[RTA.TABLE, u32(r.table)]];
    if (r.dstLength > 0) attrs.push([RTA.DST, r.dstBytes]);
    if (r.metric) attrs.push([RTA.PRIORITY, u32(r.metric)]);
    if (!forDelete) {
      if (index !== undefined) attrs.push([RTA.OIF, u32(index)]);
      if (r.gatewayBytes) attrs.push([RTA.GATEWAY, r.gatewayBytes]);
      if (r.srcBytes) attrs.push([RTA.PREFSRC, r.srcBytes]);
      if (r.mtu) attrs.push([RTA.METRICS, [[RTAX_MTU, u32(r.mtu)]]]);
    }
    const header = rtmsg({
      family: famToAf(r.family),
      dstLength: r.dstLength,
      table: r.table,
      protocol: r.protocol,
      scope: forDelete ? ROUTE_SCOPES.nowhere : ROUTE_SCOPES[r.scope],
      type: forDelete ? 0 : ROUTE_TYPES[r.type],
      flags: !forDelete && r.onlink ? RTNH_F_ONLINK : 0,
    });
    return Buffer.concat([header, encodeAttrs(attrs)]);
  }

  private async writeRoute(r: NormalizedRoute, mode: 'replace' | 'add' | 'delete', indexes: Map<string, number>, ignoreMissing = true): Promise<boolean> {
    let index: number | undefined;
    if (r.dev !== undefined && mode !== 'delete') {
      index = indexes.get(r.dev);
      if (index === undefined) throw new ResourceNotFoundError(`link ${r.dev}`, { message: `route ${r.dst}: interface does not exist: ${r.dev}` });
    }
    const type = mode === 'delete' ? RTM.DELROUTE : RTM.NEWROUTE;
    const flags = mode === 'replace' ? NLM_F.CREATE | NLM_F.REPLACE : mode === 'add' ? NLM_F.CREATE | NLM_F.EXCL : 0;
    const { errno } = await this.send(type, flags, this.encodeRoute(r, index, mode === 'delete'));
    if (errno === 0) return true;
    if (mode === 'delete' && errno === 3 /* ESRCH */) {
      if (ignoreMissing) return false;
      throw new ResourceNotFoundError(`route ${r.dst}`, { message: `route does not exist: ${r.dst} table ${r.table} metric ${r.metric}` });
    }
    if (mode === 'add' && errno === 17) throw new ResourceExistsError(`route ${r.dst}`, { message: `route already exists: ${r.dst} table ${r.table} metric ${r.metric}` });
    throw new NetlinkError(`${mode} route ${r.dst}${r.dev ? ` dev ${r.dev}` : ''}${r.gateway ? ` via ${r.gateway}` : ''}`, errno, errnoName(errno));
  }

  private async resolveDevs(routes: NormalizedRoute[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const r of routes) if (r.dev !== undefined && !out.has(r.dev)) out.set(r.dev, await this.linkIndex(r.dev, 'dev'));
    return out;
  }

  replaceRoute(route: RouteSpec): Promise<void> {
    const r = normalizeRoute(route);
    return this.exclusive(async () => {
      await this.writeRoute(r, 'replace', await this.resolveDevs([r]));
    });
  }

  addRoute(route: RouteSpec): Promise<void> {
    const r = normalizeRoute(route);
    return this.exclusive(async () => {
      await this.writeRoute(r, 'add', await this.resolveDevs([r]));
    });
  }

  deleteRoute(route: RouteSpec, options: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    const r = normalizeRoute(route, 'route', { forDelete: true });
    return this.exclusive(() => this.writeRoute(r, 'delete', new Map(), options.ignoreMissing ?? false));
  }

  applyRouteChanges(changes: RouteChanges): Promise<void> {
    const replace = (changes.replace ?? []).map((r, i) => normalizeRoute(r, `replace[${i}]`));
    const del = (changes.delete ?? []).map((r, i) => normalizeRoute(r, `delete[${i}]`, { forDelete: true }));
    return this.exclusive(async () => {
      const indexes = await this.resolveDevs(replace);
      // Deletions first so that a replacement never collides with a stale route.
      await this.pipeline(del, (r) => this.writeRoute(r, 'delete', indexes, true));
      await this.pipeline(replace, (r) => this.writeRoute(r, 'replace', indexes));
    });
  }

  private async pipeline<T>(items: T[], fn: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (next < items.length && failure === undefined) {
        const item = items[next++]!;
        try {
          await fn(item);
        } catch (error) {
          failure ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.depth, items.length) }, worker));
    if (failure !== undefined) throw failure;
  }

  reconcileRoutes(desired: RouteSpec[], options: ReconcileOptions = {}): Promise<RouteDiff> {
    return reconcileRoutes(this, desired, options);
  }

  // ------------------------------------------------------------------ neighbours and FDB

  private parseNeigh(data: Buffer, names: Map<number, string>): { family: number; index: number; state: number; flags: number; dst?: Buffer; mac?: Buffer } {
    const attrs = decodeAttrs(data, 12);
    const out: { family: number; index: number; state: number; flags: number; dst?: Buffer; mac?: Buffer } = {
      family: data.readUInt8(0),
      index: data.readInt32LE(4),
      state: data.readUInt16LE(8),
      flags: data.readUInt8(10),
    };
    void names;
    const dst = attrs.get(NDA.DST);
    if (dst) out.dst = dst;
    const mac = attrs.get(NDA.LLADDR);
    if (mac) out.mac = mac;
    return out;
  }

  listNeighbours(filter: { link?: string; family?: IPFamily } = {}): Promise<NeighbourInfo[]> {
    if (filter.link !== undefined) validateInterfaceName(filter.link, 'link');
    return this.exclusive(async () => {
      const names = new Map((await this.listLinksRaw()).map((l) => [l.index, l.name]));
      const index = filter.link !== undefined ? await this.linkIndex(filter.link) : undefined;
      const out: NeighbourInfo[] = [];
      for (const family of filter.family ? [filter.family] : ([4, 6] as IPFamily[])) {
        const msgs = await this.dump(RTM.GETNEIGH, ndmsg({ family: famToAf(family) }), 'list neighbours');
        for (const m of msgs) {
          const n = this.parseNeigh(m.data, names);
          if (n.family !== famToAf(family) || !n.dst) continue;
          if (index !== undefined && n.index !== index) continue;
          const info: NeighbourInfo = {
            index: n.index,
            family,
            address: formatIP(n.dst),
            state: Object.entries(NUD).filter(([, bit]) => n.state & bit).map(([k]) => k.toLowerCase()),
          };
          const name = names.get(n.index);
          if (name !== undefined) info.link = name;
          if (n.mac && n.mac.length === 6) info.mac = formatMac(n.mac);
          out.push(info);
        }
      }
      return out;
    });
  }

  replaceNeighbour(entry: NeighbourSpec): Promise<void> {
    validateInterfaceName(entry?.link, 'link');
    const ip = parseIP(entry.address, 'address');
    const mac = parseMac(entry.mac, 'mac');
    return this.exclusive(async () => {
      const index = await this.linkIndex(entry.link);
      const payload = Buffer.concat([ndmsg({ family: famToAf(ip.family), index, state: NUD.PERMANENT }), encodeAttrs([[NDA.DST, ip.bytes], [NDA.LLADDR, mac]])]);
      await this.call(RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, payload, `replace neighbour ${ip.text} dev ${entry.link}`);
    });
  }

  deleteNeighbour(entry: Omit<NeighbourSpec, 'mac'>, options: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    validateInterfaceName(entry?.link, 'link');
    const ip = parseIP(entry.address, 'address');
    return this.exclusive(async () => {
      const index = await this.linkIndex(entry.link);
      const payload = Buffer.concat([ndmsg({ family: famToAf(ip.family), index }), encodeAttrs([[NDA.DST, ip.bytes]])]);
      const { errno } = await this.send(RTM.DELNEIGH, 0, payload);
      if (errno === 2 /* ENOENT */) {
        if (options.ignoreMissing) return false;
        throw new ResourceNotFoundError(`neighbour ${ip.text}`, { message: `neighbour ${ip.text} does not exist on ${entry.link}` });
      }
      if (errno !== 0) throw new NetlinkError(`delete neighbour ${ip.text} dev ${entry.link}`, errno, errnoName(errno));
      return true;
    });
  }

  listFdb(filter: { link?: string } = {}): Promise<FdbInfo[]> {
    if (filter.link !== undefined) validateInterfaceName(filter.link, 'link');
    return this.exclusive(async () => {
      const names = new Map((await this.listLinksRaw()).map((l) => [l.index, l.name]));
      const index = filter.link !== undefined ? await this.linkIndex(filter.link) : undefined;
      const msgs = await this.dump(RTM.GETNEIGH, ndmsg({ family: AF_BRIDGE }), 'list fdb');
      const out: FdbInfo[] = [];
      for (const m of msgs) {
        const n = this.parseNeigh(m.data, names);
        if (n.family !== AF_BRIDGE || !n.mac) continue;
        if (index !== undefined && n.index !== index) continue;
        const info: FdbInfo = { index: n.index, mac: formatMac(n.mac), self: (n.flags & NTF_SELF) !== 0, permanent: (n.state & NUD.PERMANENT) !== 0 };
        const name = names.get(n.index);
        if (name !== undefined) info.link = name;
        if (n.dst) info.dst = formatIP(n.dst);
        out.push(info);
      }
      return out;
    });
  }

  private fdbPayload(index: number, entry: FdbSpec, state: number): Buffer {
    const ip = parseIP(entry.dst, 'dst');
    return Buffer.concat([ndmsg({ family: AF_BRIDGE, index, state, flags: NTF_SELF }), encodeAttrs([[NDA.LLADDR, parseMac(entry.mac)], [NDA.DST, ip.bytes]])]);
  }

  replaceFdb(entry: FdbSpec): Promise<void> {
    validateInterfaceName(entry?.link, 'link');
    parseMac(entry.mac);
    parseIP(entry.dst, 'dst');
    return this.exclusive(async () => {
      const index = await this.linkIndex(entry.link);
      await this.call(RTM.NEWNEIGH, NLM_F.CREATE | NLM_F.REPLACE, this.fdbPayload(index, entry, NUD.PERMANENT), `replace fdb ${entry.mac} dev ${entry.link} dst ${entry.dst}`);
    });
  }

  deleteFdb(entry: FdbSpec, options: { ignoreMissing?: boolean } = {}): Promise<boolean> {
    validateInterfaceName(entry?.link, 'link');
    parseMac(entry.mac);
    parseIP(entry.dst, 'dst');
    return this.exclusive(async () => {
      const index = await this.linkIndex(entry.link);
      const { errno } = await this.send(RTM.DELNEIGH, 0, this.fdbPayload(index, entry, 0));
      if (errno === 2) {
        if (options.ignoreMissing) return false;
        throw new ResourceNotFoundError(`fdb ${entry.mac}`, { message: `fdb entry ${entry.mac} dst ${entry.dst} does not exist on ${entry.link}` });
      }
      if (errno !== 0) throw new NetlinkError(`delete fdb ${entry.mac} dev ${entry.link}`, errno, errnoName(errno));
      return true;
    });
  }

  // ------------------------------------------------------------------ sysctls

  readSysctl(key: string | string[]): Promise<string> {
    return readSysctl(key);
  }

  writeSysctl(key: string | string[], value: string | number): Promise<void> {
    return writeSysctl(key, value);
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
  }
}
