/**
 * Scalar checks shared by the validators: names, labels, AS numbers, durations, protocols,
 * ports, MAC addresses. Each `check*` returns undefined when valid, else a reason.
 */

export const NAME_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
export const NAME_SUBDOMAIN = `${NAME_LABEL}(\\.${NAME_LABEL})*`;
const NAME_RE = new RegExp(`^${NAME_SUBDOMAIN}$`);
const LABEL_RE = new RegExp(`^${NAME_LABEL}$`);
const GNP_NAME_RE = new RegExp(`^(${NAME_LABEL}\\.)?${NAME_LABEL}$`);
const NP_NAME_RE = new RegExp(
  `^((${NAME_LABEL})(\\.${NAME_LABEL})?|((?:knp|ossg)\\.default\\.(${NAME_SUBDOMAIN})))$`,
);
const CONTAINER_ID_RE = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const INTERFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;
const GLOB_INTERFACE_RE = /^[a-zA-Z0-9_.*-]{1,15}$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAC_RE = /^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{2}[:-]){19}[0-9A-Fa-f]{2}$|^([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$|^([0-9A-Fa-f]{4}\.){3}[0-9A-Fa-f]{4}$|^([0-9A-Fa-f]{4}\.){9}[0-9A-Fa-f]{4}$/;
const DURATION_RE = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;
const PROTOCOL_NAMES = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];

/** DNS-1123 subdomain, ≤253 characters (the default rule for resource names). */
export function checkSubdomainName(name: string): string | undefined {
  if (name.length > 253) return `must be at most 253 characters (is ${name.length})`;
  if (!NAME_RE.test(name)) {
    return `must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character (regex: ${NAME_SUBDOMAIN})`;
  }
  return undefined;
}

/** DNS-1123 label, ≤63 characters (Tier names, namespaces). */
export function checkLabelName(name: string): string | undefined {
  if (name.length > 63) return `must be at most 63 characters (is ${name.length})`;
  if (!LABEL_RE.test(name)) {
    return `must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character (regex: ${NAME_LABEL})`;
  }
  return undefined;
}

/** GlobalNetworkPolicy names: a label or `label.label`. */
export function checkGlobalNetworkPolicyName(name: string): string | undefined {
  if (name.length > 253) return `must be at most 253 characters (is ${name.length})`;
  return GNP_NAME_RE.test(name) ? undefined : 'must be a DNS label or two DNS labels joined by a single dot';
}

/** NetworkPolicy names: a label, `label.label`, or `knp.default.<subdomain>` / `ossg.default.<subdomain>`. */
export function checkNetworkPolicyName(name: string): string | undefined {
  if (name.length > 253) return `must be at most 253 characters (is ${name.length})`;
  return NP_NAME_RE.test(name)
    ? undefined
    : "must be a DNS label, two DNS labels joined by a dot, or 'knp.default.'/'ossg.default.' followed by a DNS subdomain";
}

export function isValidName(name: string): boolean {
  return NAME_RE.test(name);
}

export function isValidContainerID(id: string): boolean {
  return CONTAINER_ID_RE.test(id);
}

/** Interface name, 1-15 of `[a-zA-Z0-9_.-]`, or `*` when `allowStar`. */
export function isValidInterfaceName(name: string, allowStar: boolean): boolean {
  return (allowStar && name === '*') || INTERFACE_RE.test(name);
}

/** Interface glob (ignoredInterfaces, BGPFilter `interface`): 1-15 of `[a-zA-Z0-9_.*-]`. */
export function isValidInterfaceGlob(name: string): boolean {
  return GLOB_INTERFACE_RE.test(name);
}

/** Kubernetes qualified name (label and annotation keys): `[prefix/]name`. */
export function checkQualifiedName(key: string): string | undefined {
  const parts = key.split('/');
  let name = key;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (checkSubdomainName(prefix) !== undefined) return 'prefix part must be a DNS-1123 subdomain';
  } else if (parts.length > 2) {
    return "a qualified name must consist of an optional DNS subdomain prefix and '/' and a name";
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME_PART.test(name)) {
    return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Kubernetes label value: ≤63, empty or alphanumeric at both ends with `-_.` inside. */
export function checkLabelValue(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE_RE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** Kubernetes port name (IANA_SVC_NAME): ≤15, lowercase alphanumerics and '-', a letter, no '--'. */
export function checkPortName(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > 15) return 'must be no more than 15 characters';
  if (!/^[-a-z0-9]+$/.test(name)) return "must contain only lower case alphanumeric characters or '-'";
  if (!/[a-z]/.test(name)) return 'must contain at least one letter';
  if (name.includes('--')) return "must not contain consecutive hyphens";
  if (name.startsWith('-') || name.endsWith('-')) return "must not begin or end with a hyphen";
  return undefined;
}

/**
 * Parses an AS number given as a number, a decimal string, or an asdot string `"high.low"`
 * (both parts 0-65535). Returns undefined when invalid.
 */
export function parseASNumber(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 && value <= 0xffffffff ? value : undefined;
  }
  if (typeof value !== 'string') return undefined;
  if (/^[0-9]+$/.test(value)) {
    const n = Number(value);
    return n <= 0xffffffff ? n : undefined;
  }
  const parts = value.split('.');
  if (parts.length !== 2 || !/^[0-9]+$/.test(parts[0]!) || !/^[0-9]+$/.test(parts[1]!)) return undefined;
  const high = Number(parts[0]);
  const low = Number(parts[1]);
  if (high > 0xffff || low > 0xffff) return undefined;
  return high * 65536 + low;
}

/** Go duration syntax (`90s`, `2m0s`, `1h30m`, `0`). */
export function isValidDuration(value: string): boolean {
  return value === '0' || DURATION_RE.test(value);
}

/** A protocol name (case-insensitive) or number 1-255. */
export function checkProtocol(value: unknown): string | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 1 && value <= 255 ? undefined : 'protocol number must be 1-255';
  }
  if (typeof value === 'string') {
    if (/^[0-9]+$/.test(value)) return checkProtocol(Number(value));
    return PROTOCOL_NAMES.some((p) => p.toLowerCase() === value.toLowerCase())
      ? undefined
      : `protocol name must be one of ${PROTOCOL_NAMES.join(', ')} or a number 1-255`;
  }
  return 'protocol must be a string or a number';
}

/** Whether a protocol carries ports (TCP, UDP, SCTP, or their numbers 6, 17, 132). */
export function protocolSupportsPorts(value: unknown): boolean {
  if (typeof value === 'number') return value === 6 || value === 17 || value === 132;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    return lower === 'tcp' || lower === 'udp' || lower === 'sctp' || value === '6' || value === '17' || value === '132';
  }
  return false;
}

/** Canonical spelling of a named protocol (`tcp` -> `TCP`); numbers and unknown names unchanged. */
export function canonicalProtocol(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return PROTOCOL_NAMES.find((p) => p.toLowerCase() === value.toLowerCase()) ?? value;
}

/** A rule port: number 0-65535, `"min:max"`, or a named port. */
export function checkRulePort(value: unknown): string | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value >= 0 && value <= 65535 ? undefined : 'port must be 0-65535';
  }
  if (typeof value !== 'string') return 'port must be a number or a string';
  const range = /^([0-9]+):([0-9]+)$/.exec(value);
  if (range) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min > 65535 || max > 65535) return 'port range bounds must be 0-65535';
    if (min > max) return 'port range minimum must not exceed maximum';
    return undefined;
  }
  if (/^[0-9]+$/.test(value)) return Number(value) <= 65535 ? undefined : 'port must be 0-65535';
  if (value.length === 0) return 'port must not be empty';
  if (value.length > 128) return 'named port must be at most 128 characters';
  return undefined;
}

export function isValidMAC(value: string): boolean {
  return MAC_RE.test(value);
}

/** A BGP community value: `aa:nn` (16-bit parts) or `aa:nn:mm` (32-bit parts). */
export function checkCommunityValue(value: string): string | undefined {
  const standard = /^(\d+):(\d+)$/.exec(value);
  if (standard) {
    return [standard[1], standard[2]].every((p) => Number(p) <= 0xffff)
      ? undefined
      : 'invalid community value, expected 16 bit values (aa:nn)';
  }
  const large = /^(\d+):(\d+):(\d+)$/.exec(value);
  if (large) {
    return [large[1], large[2], large[3]].every((p) => Number(p) <= 0xffffffff)
      ? undefined
      : 'invalid community value, expected 32 bit values (aa:nn:mm)';
  }
  return "community must be 'aa:nn' or 'aa:nn:mm'";
}
