/**
 * Test kit of @libcalico-ts/ipam: a deterministic IPAM on the in-memory datastore with a fake
 * clock, seeded randomness, and fault injection at the engine's named write points (see
 * `WRITE_POINTS`), so you can unit-test your own IPAM logic and crash-test at every write.
 *
 * @example
 * const bed = await createIPAMTestBed({ seed: 1 });
 * await bed.addPool('default-ipv4-ippool', '10.244.0.0/16');
 * await bed.addNode('node-1');
 * bed.faults.inject('assign:commit', { kind: 'conflict', times: 3 }); // three lost CAS races
 * const { ipv4 } = await bed.ipam.autoAssign({ num4: 1, hostname: 'node-1', intendedUse: 'Workload' });
 */
import { CalicoError, DatastoreUnavailableError, UpdateConflictError, type IPPoolSpec, type NodeSpec } from '@libcalico-ts/api';
import { createMemoryDatastore, describeKey, type Datastore, type Key, type MemoryDatastore, type TxnOperation } from '@libcalico-ts/datastore';
import { createIPAM, WRITE_POINTS, type IPAM, type IPAMClock, type IPAMOptions, type WriteHooks, type WritePoint } from '../engine.js';

export { WRITE_POINTS };
export type { WritePoint };

/** A controllable clock: time moves only when told (`advance`, `set`) or when the engine sleeps. */
export class FakeClock implements IPAMClock {
  private ms: number;
  private extraNanos = 0n;
  constructor(startMs = Date.UTC(2024, 4, 1, 10, 0, 0)) {
    this.ms = startMs;
  }
  now(): number {
    return this.ms;
  }
  /** Strictly increasing nanoseconds (distinct block creation sequence numbers even at one instant). */
  nowNanos(): bigint {
    this.extraNanos += 1n;
    return BigInt(Math.floor(this.ms)) * 1_000_000n + this.extraNanos;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  /** Retry back-off: advances the clock, resolves on the next microtask turn. */
  async sleep(ms: number): Promise<void> {
    this.ms += ms;
    await Promise.resolve();
  }
}

/** A seeded uniform [0, 1) generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The error a `crash` fault throws: the process "died" at that write point. */
export class InjectedFault extends CalicoError {
  static override readonly errorName: string = 'InjectedFault';
  readonly point: WritePoint;
  readonly when: 'before' | 'after';
  constructor(point: WritePoint, when: 'before' | 'after') {
    super(`injected fault ${when} write at ${point}`);
    this.point = point;
    this.when = when;
  }
}

/**
 * A fault at a write point:
 * - `conflict`: another writer gets there first — the written key's revision is bumped (or, for a
 *   create, an `UpdateConflictError` is thrown) so the engine's compare-and-swap fails for real;
 * - `crash`: the write does not happen; `InjectedFault` is thrown (a process dying before it);
 * - `crashAfter`: the write happens, then `InjectedFault` is thrown (dying right after it);
 * - `error`: the write does not happen; `error` is thrown (e.g. a `DatastoreUnavailableError`);
 * - `lostAck`: the write IS applied, but its answer is lost (an etcd leader change): with
 *   `then: 'unavailable'` (default) the engine gets a retryable `DatastoreUnavailableError`; with
 *   `then: 'resend'` the datastore call is sent a second time, as a client library failing over
 *   to another member does, and the engine gets that second answer (usually the conflict or
 *   "exists" error the already-applied write causes). Needs the engine's datastore to be wrapped
 *   by {@link FaultInjector.wrap} (the test bed does it).
 */
export type Fault =
  | { kind: 'conflict'; times?: number; skip?: number }
  | { kind: 'crash'; times?: number; skip?: number }
  | { kind: 'crashAfter'; times?: number; skip?: number }
  | { kind: 'error'; error: Error; times?: number; skip?: number }
  | { kind: 'lostAck'; then?: 'unavailable' | 'resend'; times?: number; skip?: number };

interface ArmedFault {
  fault: Fault;
  remaining: number;
  skip: number;
}

/** A `lostAck` armed by a write point, waiting for the datastore call that performs that write. */
interface LostAnswer {
  keys: Set<string>;
  then: 'unavailable' | 'resend';
  point: WritePoint;
}

/**
 * Records every write the engine makes and fires armed faults. Pass it as `hooks`; for `lostAck`
 * faults, also give the engine `injector.wrap(datastore)` as its datastore.
 *
 * @example
 * const faults = new FaultInjector();
 * faults.datastore = datastore; // what `conflict` faults disturb
 * const ipam = createIPAM(faults.wrap(datastore), { hostname: 'node-1', hooks: faults });
 * faults.inject('assign:commit', { kind: 'lostAck' }); // applied, then DatastoreUnavailableError
 */
export class FaultInjector implements WriteHooks {
  /** Every write point reached (before the write), in order. */
  readonly log: { point: WritePoint; keys: Key[] }[] = [];
  private readonly armed = new Map<WritePoint, ArmedFault[]>();
  /** Set by the test bed: the datastore a `conflict` fault disturbs (any datastore works). */
  datastore: Datastore | undefined;
  /** Lost answers armed at a write point, consumed by the wrapped datastore's next matching write. */
  private readonly lostAnswers: LostAnswer[] = [];
  private wrapped = 0;
  /** How many `lostAck` faults have fired (write applied, answer dropped). */
  lostAcks = 0;

  /**
   * A view of `datastore` that applies `lostAck` faults: the write armed at a write point is
   * performed, then its answer is replaced by a retryable error (or by the answer of the same
   * call sent again). Every other call passes through unchanged (MemoryDatastore helpers too).
   */
  wrap<D extends Datastore>(datastore: D): D {
    this.wrapped++;
    const injector = this;
    const intercept = new Set(['createKV', 'updateKV', 'applyKV', 'deleteKV', 'transact']);
    return new Proxy(datastore, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== 'function') return value;
        const method = value as (...args: unknown[]) => unknown;
        if (typeof property !== 'string' || !intercept.has(property)) return method.bind(target);
        return async (...args: unknown[]) => {
          const keys =
            property === 'transact' ? (args[1] as TxnOperation[]).map((op) => describeKey(op.key)) : [describeKey(args[0] as Key)];
          const index = injector.lostAnswers.findIndex((lost) => keys.some((k) => lost.keys.has(k)));
          if (index < 0) return method.apply(target, args);
          const lost = injector.lostAnswers.splice(index, 1)[0]!;
          await method.apply(target, args);
          injector.lostAcks++;
          if (lost.then === 'resend') return method.apply(target, args);
          throw new DatastoreUnavailableError(`injected lost answer at ${lost.point}: the write was applied, its acknowledgement lost`);
        };
      },
    });
  }

  /** Arms `fault` at `point` for `times` hits (default 1) after skipping `skip` hits (default 0). */
  inject(point: WritePoint, fault: Fault): void {
    if (!WRITE_POINTS.includes(point)) throw new Error(`unknown write point ${point}`);
    const list = this.armed.get(point) ?? [];
    list.push({ fault, remaining: fault.times ?? 1, skip: fault.skip ?? 0 });
    this.armed.set(point, list);
  }

  /** Disarms every fault (the log is kept). */
  clear(): void {
    this.armed.clear();
    this.lostAnswers.length = 0;
  }

  /** How many times `point` was reached. */
  count(point: WritePoint): number {
    return this.log.filter((e) => e.point === point).length;
  }

  private take(point: WritePoint, kinds: Fault['kind'][]): Fault | undefined {
    const list = this.armed.get(point);
    if (!list) return undefined;
    for (const armed of list) {
      if (!kinds.includes(armed.fault.kind) || armed.remaining <= 0) continue;
      if (armed.skip > 0) {
        armed.skip--;
        continue;
      }
      armed.remaining--;
      return armed.fault;
    }
    return undefined;
  }

  async beforeWrite(point: WritePoint, keys: readonly Key[]): Promise<void> {
    this.log.push({ point, keys: keys.map((k) => ({ ...k })) });
    const fault = this.take(point, ['conflict', 'crash', 'error', 'crashAfter', 'lostAck']);
    if (!fault) return;
    if (fault.kind === 'lostAck') {
      if (this.wrapped === 0) throw new Error(`lostAck at ${point}: the engine's datastore must be wrapped with FaultInjector.wrap()`);
      this.lostAnswers.push({ keys: new Set(keys.map(describeKey)), then: fault.then ?? 'unavailable', point });
      return;
    }
    if (fault.kind === 'crashAfter') {
      // Re-arm for the after-hook of this same write.
      this.pendingAfter.set(point, (this.pendingAfter.get(point) ?? 0) + 1);
      return;
    }
    if (fault.kind === 'crash') throw new InjectedFault(point, 'before');
    if (fault.kind === 'error') throw fault.error;
    const ds = this.datastore;
    const key = keys[0]!;
    if (ds) {
      try {
        const current = await ds.getKV(key);
        await ds.applyKV(key, current.value);
        return;
      } catch {
        // Absent: fall through to a conflict error.
      }
    }
    throw new UpdateConflictError(String(point), { message: `update conflict (injected) at ${point}` });
  }

  private readonly pendingAfter = new Map<WritePoint, number>();

  afterWrite(point: WritePoint): void {
    const n = this.pendingAfter.get(point) ?? 0;
    if (n > 0) {
      this.pendingAfter.set(point, n - 1);
      throw new InjectedFault(point, 'after');
    }
  }
}

/** Options of {@link createIPAMTestBed}. */
export interface IPAMTestBedOptions {
  /** Seed of the engine's randomness (retry jitter). Default 1. */
  seed?: number;
  /** Start time of the fake clock (Unix ms). Default 2024-05-01T10:00:00Z. */
  startMs?: number;
  /** Behave like etcd (true, default) or like Kubernetes (false: two sequential CAS writes). */
  atomicTransactions?: boolean;
  /** Extra engine options (hostname, maxRetries, windows...). `clock`, `random` and `hooks` are the kit's. */
  ipam?: Omit<IPAMOptions, 'clock' | 'random' | 'hooks'>;
  /** An existing datastore to run on (default a fresh memory datastore). */
  datastore?: MemoryDatastore;
}

/** A deterministic IPAM with helpers to create pools, nodes and reservations. */
export interface IPAMTestBed {
  /** The datastore itself (writes here never see faults). */
  datastore: MemoryDatastore;
  /** The engine, on `faults.wrap(datastore)` (so `lostAck` faults work) with `faults` as hooks. */
  ipam: IPAM;
  clock: FakeClock;
  random: () => number;
  faults: FaultInjector;
  /** A second engine on the same datastore (another process), with its own clock view and faults. */
  otherProcess(options?: { faults?: FaultInjector }): IPAM;
  addPool(name: string, cidr: string, spec?: Partial<IPPoolSpec>): Promise<void>;
  addNode(name: string, labels?: Record<string, string>, spec?: NodeSpec): Promise<void>;
  addReservation(name: string, reservedCIDRs: string[]): Promise<void>;
}

/** Builds a {@link IPAMTestBed}. */
export async function createIPAMTestBed(options: IPAMTestBedOptions = {}): Promise<IPAMTestBed> {
  const datastore = options.datastore ?? createMemoryDatastore({ atomicTransactions: options.atomicTransactions ?? true });
  const clock = new FakeClock(options.startMs);
  const random = seededRandom(options.seed ?? 1);
  const faults = new FaultInjector();
  faults.datastore = datastore;
  const ipam = createIPAM(faults.wrap(datastore), { ...options.ipam, clock, random, hooks: faults });
  return {
    datastore,
    ipam,
    clock,
    random,
    faults,
    otherProcess(o = {}) {
      const f = o.faults ?? new FaultInjector();
      f.datastore = datastore;
      return createIPAM(f.wrap(datastore), { ...options.ipam, clock, random: seededRandom((options.seed ?? 1) + 7), hooks: f });
    },
    async addPool(name, cidr, spec = {}) {
      await datastore.createKV(
        { type: 'resource', kind: 'IPPool', name },
        { kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { cidr, ...spec } },
      );
    },
    async addNode(name, labels = {}, spec = {}) {
      await datastore.createKV(
        { type: 'resource', kind: 'Node', name },
        { kind: 'Node', apiVersion: 'projectcalico.org/v3', metadata: { name, labels }, spec, status: {} },
      );
    },
    async addReservation(name, reservedCIDRs) {
      await datastore.createKV(
        { type: 'resource', kind: 'IPReservation', name },
        { kind: 'IPReservation', apiVersion: 'projectcalico.org/v3', metadata: { name }, spec: { reservedCIDRs } },
      );
    },
  };
}
