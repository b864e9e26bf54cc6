/**
 * A small docopt-like flag parser: `--name=value`, `--name value`, `-x value`, `-xvalue`,
 * boolean flags, repeatable flags; anything unknown is an {@link UsageError}.
 */

/** Bad command-line usage: calicoctl prints `Invalid option: 'calicoctl ...'`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One flag a command accepts. */
export interface FlagSpec {
  /** Long name without dashes (`filename`). */
  name: string;
  /** Short letter (`f`). */
  short?: string;
  /** Takes a value (default) or is a boolean switch. */
  type?: 'string' | 'boolean';
  /** May be given several times (values collected in order). */
  repeat?: boolean;
}

/** Parsed command line: flag values by long name, and positional arguments. */
export interface ParsedArgs {
  flags: Map<string, string[]>;
  positionals: string[];
}

/**
 * Parses `argv` against `specs`.
 * @throws UsageError for an unknown flag, a missing value, or a non-repeatable flag given twice.
 */
export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const put = (spec: FlagSpec, value: string) => {
    const list = flags.get(spec.name) ?? [];
    if (list.length > 0 && !spec.repeat) throw new UsageError(`flag --${spec.name} given more than once`);
    list.push(value);
    flags.set(spec.name, list);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = arg.slice(2, eq < 0 ? undefined : eq);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag --${name}`);
      if (spec.type === 'boolean') {
        if (eq >= 0) {
          const v = arg.slice(eq + 1);
          if (v !== 'true' && v !== 'false') throw new UsageError(`flag --${name} takes no value other than true or false`);
          if (v === 'true') put(spec, 'true');
        } else put(spec, 'true');
        continue;
      }
      if (eq >= 0) put(spec, arg.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`);
        put(spec, argv[++i]!);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      const letter = arg[1]!;
      const spec = byShort.get(letter);
      if (!spec) throw new UsageError(`unknown flag -${letter}`);
      if (spec.type === 'boolean') {
        if (arg.length > 2) throw new UsageError(`flag -${letter} takes no value`);
        put(spec, 'true');
        continue;
      }
      if (arg.length > 2) put(spec, arg.slice(arg[2] === '=' ? 3 : 2));
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag -${letter} needs a value`);
        put(spec, argv[++i]!);
      }
      continue;
    }
    positionals.push(arg);
  }
  return { flags, positionals };
}

/** The single value of a flag, or undefined. */
export function flag(parsed: ParsedArgs, name: string): string | undefined {
  return parsed.flags.get(name)?.[0];
}

/** True when a boolean flag was given. */
export function flagSet(parsed: ParsedArgs, name: string): boolean {
  return parsed.flags.get(name)?.[0] === 'true';
}
