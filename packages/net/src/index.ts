// Public surface of @libcalico-ts/net.
export { InvalidAddressError, InvalidCIDRError, InvalidMACError, OutOfRangeError } from './errors.js';
export { IPAddress, parseIP, isIP, ipVersionOf, addressBits, maxAddressValue, formatIPv4, formatIPv6, formatIPBytes } from './ip.js';
export type { IPVersion, FormatIPOptions } from './ip.js';
export { CIDR, parseCIDR, isCIDR, toCIDR, maskValue, maskBytes } from './cidr.js';
export type { ParseCIDROptions } from './cidr.js';
export { ordinalOf, addressAt, splitIntoBlocks, blockCount, blockAt, blockContaining } from './blocks.js';
export { cidrToKeyName, keyNameToCIDR, cidrToObjectName, objectNameToCIDR } from './names.js';
export { parseMAC, formatMAC, isMAC } from './mac.js';
