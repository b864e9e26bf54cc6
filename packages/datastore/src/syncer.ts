/**
 * A list-then-watch syncer (libcalico-go `watchersyncer` idea): keeps a consumer's view of some
 * datastore lists up to date across watch failures, compaction and reconnects.
 *
 * For each list it: lists, emits the items, watches from the list revision, emits each change.
 * When the watch fails (`WatchTooOldError` after compaction, a lost connection, an unexpected end)
 * it waits `backoff(attempt)` ms, lists again and emits only the DIFFERENCE from what it had emitted
 * before (added / modified / deleted), so a consumer never misses a deletion that happened while
 * the watch was down. With `inactivityTimeoutMs`, a watch silent for that long is restarted from
 * its last revision (no relist), which detects half-open connections without a whole-request timeout.
 */
import { CalicoError, DatastoreError, OperationNotSupportedError, ValidationError } from '@libcalico-ts/api';
import type { Datastore, Key, KVPair, ListInterface, WatchEvent, WatchEventType } from './contract.js';
import { keyId, validateList } from './keys.js';

/** Syncer status: `waiting` (datastore not reached yet), `resyncing` (initial lists under way), `in-sync`. */
export const SyncStatus = { Waiting: 'waiting', Resyncing: 'resyncing', InSync: 'in-sync' } as const;
export type SyncStatus = (typeof SyncStatus)[keyof typeof SyncStatus];

/** One change as the syncer reports it. */
export interface SyncUpdate<K extends Key = Key> {
  type: WatchEventType;
  key: K;
  /** The new pair (added, modified). */
  current?: KVPair<K>;
  /** The pair this syncer emitted last for the key (modified, deleted). */
  previous?: KVPair<K>;
  /** Index in `lists` of the list the update belongs to. */
  listIndex: number;
}

/** What the syncer calls. Calls never overlap: an async `onUpdates` is awaited before the next call. */
export interface SyncerCallbacks {
  /** Status changes: `waiting` at start, `resyncing` once the datastore answered, `in-sync` once every list was emitted. */
  onStatus?(status: SyncStatus): void | Promise<void>;
  /** A batch of changes: a whole (re)list difference, or one watch event. Never called with an empty batch. */
  onUpdates(updates: SyncUpdate[]): void | Promise<void>;
  /**
   * A failure the syncer is recovering from (`attempt` counts consecutive failures of that list),
   * or an error thrown by a callback (`attempt` 0; the syncer carries on).
   */
  onError?(error: unknown, context: { listIndex: number; attempt: number }): void;
}

/** Options of {@link createSyncer}. */
export interface SyncerOptions {
  /**
   * Delay in ms before retry number `attempt` (1-based) of a list after a failure.
   * Default: 0 for the first retry, then 100 ms doubling up to 30 s.
   */
  backoff?: (attempt: number) => number;
  /** Waits `ms` (default: `setTimeout`); must resolve (or reject) early when `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Restart a watch that delivered nothing for this long (ms), from its last revision. Default: never. */
  inactivityTimeoutMs?: number;
}

/** A running (or stopped) syncer. */
export interface Syncer {
  /** Starts listing and watching. Calling it again does nothing; a stopped syncer cannot restart. */
  start(): void;
  /** Stops every watch and retry; resolves once no callback will run any more. */
  stop(): Promise<void>;
  /** The last status reported. */
  readonly status: SyncStatus;
}

/** The default backoff: 0, 100, 200, 400 ... 30000 ms. */
export function defaultBackoff(attempt: number): number {
  if (attempt <= 1) return 0;
  return Math.min(30_000, 100 * 2 ** Math.min(attempt - 2, 20));
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || ms <= 0) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Creates a syncer over `lists` (not started: call `start()`).
 *
 * Status follows libcalico-go: `waiting` -> `resyncing` -> `in-sync`, once; after that, relists
 * caused by failures are reported only as the updates they produce.
 *
 * @throws ValidationError when `lists` is empty or a list is malformed, or an option is invalid.
 * @example
 * ```ts
 * const syncer = createSyncer(datastore, [{ type: 'resource', kind: 'IPPool' }, { type: 'blockAffinity' }], {
 *   onStatus: (status) => console.log(status),
 *   onUpdates: (updates) => { for (const u of updates) cache.apply(u); },
 * });
 * syncer.start();
 * // ...
 * await syncer.stop();
 * ```
 */
export function createSyncer(
  datastore: Datastore,
  lists: readonly ListInterface[],
  callbacks: SyncerCallbacks,
  options: SyncerOptions = {},
): Syncer {
  if (!Array.isArray(lists) || lists.length === 0) {
    throw new ValidationError([{ name: 'lists', value: lists, reason: 'must be a non-empty array of lists' }]);
  }
  lists.forEach((list) => validateList(list));
  if (typeof callbacks?.onUpdates !== 'function') {
    throw new ValidationError([{ name: 'callbacks.onUpdates', value: callbacks?.onUpdates, reason: 'must be a function' }]);
  }
  const inactivityMs = options.inactivityTimeoutMs;
  if (inactivityMs !== undefined && !(Number.isFinite(inactivityMs) && inactivityMs > 0)) {
    throw new ValidationError([{ name: 'inactivityTimeoutMs', value: inactivityMs, reason: 'must be a positive number of ms' }]);
  }
  const backoff = options.backoff ?? defaultBackoff;
  const sleep = options.sleep ?? defaultSleep;

  let status: SyncStatus = SyncStatus.Waiting;
  let started = false;
  let stopped = false;
  const stopController = new AbortController();
  const listedOnce = new Set<number>();
  let loops: Promise<void>[] = [];
  /** Serializes every callback so that calls never overlap. */
  let chain: Promise<void> = Promise.resolve();

  const report = (error: unknown, listIndex: number, attempt: number) => {
    try {
      callbacks.onError?.(error, { listIndex, attempt });
    } catch {
      // An onError that throws must not break the syncer.
    }
  };

  /** Runs a callback after the previous ones; callback errors go to onError, never into the sync loop. */
  const enqueue = (listIndex: number, call: () => void | Promise<void>): Promise<void> => {
    const run = chain.then(async () => {
      if (stopped) return;
      try {
        await call();
      } catch (error) {
        report(error, listIndex, 0);
      }
    });
    chain = run;
    return run;
  };

  const setStatus = (listIndex: number, next: SyncStatus) => {
    if (status === next) return Promise.resolve();
    status = next;
    return enqueue(listIndex, () => callbacks.onStatus?.(next));
  };

  const deliver = (listIndex: number, updates: SyncUpdate[]) => {
    if (updates.length === 0) return Promise.resolve();
    return enqueue(listIndex, () => callbacks.onUpdates(updates));
  };

  async function runList(listIndex: number): Promise<void> {
    const list = lists[listIndex]!;
    /** What this syncer has emitted for the list, by key id. */
    const emitted = new Map<string, KVPair>();
    let revision: string | undefined;
    let attempt = 0;
    while (!stopped) {
      try {
        if (revision === undefined) {
          const result = await datastore.listKV(list);
          if (stopped) return;
          if (status === SyncStatus.Waiting) await setStatus(listIndex, SyncStatus.Resyncing);
          await deliver(listIndex, difference(emitted, result.items, listIndex));
          revision = result.revision;
          if (!listedOnce.has(listIndex)) {
            listedOnce.add(listIndex);
            if (listedOnce.size === lists.length && status !== SyncStatus.InSync) await setStatus(listIndex, SyncStatus.InSync);
          }
        }
        const outcome = await watchFrom(listIndex, list, revision, emitted, (next) => {
          revision = next;
          attempt = 0;
        });
        if (outcome === 'inactive') {
          attempt = 0;
          continue; // restart the watch from the last revision
        }
        if (stopped) return;
        throw new DatastoreError(`watch of list ${listIndex} ended unexpectedly`);
      } catch (error) {
        if (stopped) return;
        attempt++;
        report(error, listIndex, attempt);
        // Any failure relists: the watch may have missed changes, and the revision may be compacted.
        revision = undefined;
        let delay: number;
        try {
          delay = Math.max(0, Number(backoff(attempt)) || 0);
        } catch (backoffError) {
          report(backoffError, listIndex, attempt);
          delay = defaultBackoff(attempt);
        }
        try {
          await sleep(delay, stopController.signal);
        } catch {
          // An aborted sleep just ends the wait.
        }
      }
    }
  }

  /**
   * Watches `list` from `revision`, applying events to `emitted`. Resolves `'inactive'` when the
   * inactivity timer restarted it, `'stopped'` when the syncer stopped; throws what the watch throws.
   */
  async function watchFrom(
    listIndex: number,
    list: ListInterface,
    revision: string,
    emitted: Map<string, KVPair>,
    advanced: (revision: string) => void,
  ): Promise<'inactive' | 'stopped' | 'ended'> {
    const watch = datastore.watchKV(list, { revision, signal: stopController.signal });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inactive = false;
    const arm = () => {
      if (inactivityMs === undefined) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        inactive = true;
        watch.stop();
      }, inactivityMs);
    };
    const disarm = () => clearTimeout(timer);
    try {
      arm();
      for await (const event of watch) {
        disarm();
        if (stopped) return 'stopped';
        const update = applyEvent(emitted, event as WatchEvent, listIndex);
        advanced(event.revision);
        if (update) await deliver(listIndex, [update]);
        if (stopped) return 'stopped';
        arm();
      }
    } finally {
      disarm();
      watch.stop();
    }
    if (stopped) return 'stopped';
    return inactive ? 'inactive' : 'ended';
  }

  return {
    get status() {
      return status;
    },
    start() {
      if (stopped) throw new OperationNotSupportedError('a stopped syncer cannot be restarted; create a new one');
      if (started) return;
      started = true;
      void enqueue(-1, () => callbacks.onStatus?.(SyncStatus.Waiting));
      loops = lists.map((_, index) =>
        runList(index).catch((error) => {
          // runList handles its own failures; this is a bug guard.
          report(error instanceof CalicoError ? error : new DatastoreError('syncer loop failed', { cause: error }), index, -1);
        }),
      );
    },
    async stop() {
      if (stopped) {
        await Promise.all(loops);
        return;
      }
      stopped = true;
      stopController.abort();
      await Promise.all(loops);
      await chain;
    },
  };
}

/** Emitted state -> new list: the updates turning one into the other (and `emitted` is updated). */
function difference(emitted: Map<string, KVPair>, items: KVPair[], listIndex: number): SyncUpdate[] {
  const updates: SyncUpdate[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    const id = keyId(item.key);
    seen.add(id);
    const previous = emitted.get(id);
    if (previous && previous.revision === item.revision) continue;
    emitted.set(id, item);
    updates.push(
      previous
        ? { type: 'modified', key: item.key, current: item, previous, listIndex }
        : { type: 'added', key: item.key, current: item, listIndex },
    );
  }
  for (const [id, previous] of emitted) {
    if (seen.has(id)) continue;
    emitted.delete(id);
    updates.push({ type: 'deleted', key: previous.key, previous, listIndex });
  }
  return updates;
}

/** One watch event -> the update to emit (or none when it changes nothing the consumer saw). */
function applyEvent(emitted: Map<string, KVPair>, event: WatchEvent, listIndex: number): SyncUpdate | undefined {
  if (event.type === 'deleted') {
    const pair = event.previous ?? event.current;
    if (!pair) return undefined;
    const id = keyId(pair.key);
    const previous = emitted.get(id);
    if (!previous) return undefined;
    emitted.delete(id);
    return { type: 'deleted', key: previous.key, previous, listIndex };
  }
  const current = event.current;
  if (!current) return undefined;
  const id = keyId(current.key);
  const previous = emitted.get(id);
  if (previous && previous.revision === current.revision) return undefined;
  emitted.set(id, current);
  return previous
    ? { type: 'modified', key: current.key, current, previous, listIndex }
    : { type: 'added', key: current.key, current, listIndex };
}
