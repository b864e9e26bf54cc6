/**
 * The etcd requests behind every write, built once for both transports (gRPC and the JSON
 * gateway), and the reading of a failed transaction back into the contract's errors.
 *
 * A {@link TxnRequest} is transport-neutral: keys are bytes, revisions decimal strings, and the
 * compare target/result are lower-case words. Each transport maps it to its own wire form
 * (../datastore.ts to etcd3's request objects, ../gateway/datastore.ts to the gateway's JSON).
 * When a transaction fails, the transport hands back, for each failure operation, the keys and
 * mod revisions its range returned ({@link FailureRange}); the functions here name the condition
 * that did not hold, exactly as libcalico-go's etcdv3 backend would.
 *
 * Internal: not exported from any entry point. Free of `etcd3`, gRPC and `node:http`.
 */
import {
  DatastoreError,
  DatastoreUnavailableError,
  ResourceExistsError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  type ErrorIdentifier,
} from '@libcalico-ts/api';
import {
  describeList,
  listToPrefixes,
  validateList,
  type Key,
  type KVPair,
  type ListCondition,
  type ListInterface,
  type TxnCondition,
  type TxnOperation,
  type TxnOptions,
  type TxnResult,
  type ValueOf,
} from '@libcalico-ts/datastore';
import { checkRevision, decodeStored, MAX_TXN_OPS, nextRevision, prefixEnd, prepareKey } from './shared.js';

/** One compare of an etcd transaction: `target` of `key` (or of every key in `[key, rangeEnd)`) `result` `value`. */
export interface TxnCompare {
  key: Buffer;
  rangeEnd?: Buffer;
  target: 'version' | 'mod';
  result: 'equal' | 'less';
  /** A version (for `version`) or a mod revision (for `mod`), as a decimal string. */
  value: string;
}

/** A range read inside a transaction. */
export interface TxnRange {
  key: Buffer;
  rangeEnd?: Buffer;
  minModRevision?: string;
  limit?: number;
  keysOnly?: boolean;
}

/** One operation of an etcd transaction. */
export type TxnRequestOp = { range: TxnRange } | { put: { key: Buffer; value: Buffer } } | { deleteRange: { key: Buffer; prevKv?: boolean } };

/** An etcd transaction: if every compare holds, the success operations run, else the failure ones. */
export interface TxnRequest {
  compare: TxnCompare[];
  success: TxnRequestOp[];
  failure: TxnRequestOp[];
}

/** What one failure range returned: the keys (as text) and their mod revisions. */
export type FailureRange = readonly { key: string; modRevision: string }[];

// ---------------------------------------------------------------------------------------------
// Single-key writes: compare-and-put / compare-and-delete with the current value read on failure.

function singleKey(path: string, compare: TxnCompare[], success: TxnRequestOp): TxnRequest {
  const key = Buffer.from(path);
  return { compare, success: [success], failure: [{ range: { key } }] };
}

/** Create: put if the key does not exist (version 0). */
export function createRequest(path: string, bytes: Buffer): TxnRequest {
  const key = Buffer.from(path);
  return singleKey(path, [{ key, target: 'version', result: 'equal', value: '0' }], { put: { key, value: bytes } });
}

/** Update: put if the key's mod revision is `revision`. */
export function updateRequest(path: string, bytes: Buffer, revision: string): TxnRequest {
  const key = Buffer.from(path);
  return singleKey(path, [{ key, target: 'mod', result: 'equal', value: revision }], { put: { key, value: bytes } });
}

/** Delete (returning the previous value), if the key's mod revision is `revision` when given. */
export function deleteRequest(path: string, revision: string | undefined): TxnRequest {
  const key = Buffer.from(path);
  return singleKey(path, revision === undefined ? [] : [{ key, target: 'mod', result: 'equal', value: revision }], { deleteRange: { key, prevKv: true } });
}

/** The error of a failed create. */
export function createFailure(identifier: ErrorIdentifier): Error {
  return new ResourceExistsError(identifier);
}

/** The error of a failed update (`current`: the failure range): absent, or at another revision. */
export function updateFailure(identifier: ErrorIdentifier, path: string, revision: string, current: FailureRange): Error {
  if (current.length === 0) return new ResourceNotFoundError(identifier);
  return new UpdateConflictError(identifier, { message: `update conflict: ${path} is at revision ${current[0]!.modRevision}, not ${revision}` });
}

/** The error of a failed compare-and-delete. */
export function deleteFailure(identifier: ErrorIdentifier, path: string, revision: string | undefined, current: FailureRange): Error {
  if (current.length === 0) return new ResourceNotFoundError(identifier);
  return new UpdateConflictError(identifier, { message: `delete conflict: ${path} is at revision ${current[0]!.modRevision}, not ${revision}` });
}

// ---------------------------------------------------------------------------------------------
// Multi-key transactions.

/** What to report for one failure operation when the transaction fails. */
type Check =
  | { path: string; identifier: ErrorIdentifier; absent: boolean; revision?: string; list?: undefined }
  | { list: ListInterface; index: number; after: string; path: string };

/** A transaction planned from the contract's conditions, operations and options. */
export interface TransactionPlan {
  request: TxnRequest;
  /** One per failure operation, in order. */
  checks: Check[];
  /** One per operation: the canonical key, and whether it is a put. */
  results: { key: Key; put: boolean }[];
}

const CONDITION_SHAPE = 'must be {key, revision} or {key, absent: true}';

/**
 * Validates and translates `transact(conditions, operations, options)`:
 * - `{key, absent: true}`: compare version = 0; `{key, revision}`: compare mod = revision;
 * - `options.listConditions`: for each prefix of the list, a range compare "mod < notModifiedAfter + 1"
 *   over the whole prefix (an empty range holds), with a failure range that finds the first key
 *   modified later (to name it);
 * - puts and deletes in order; a key twice, or more than etcd's 128 operations, is refused.
 * @throws ValidationError for any malformed input (nothing is sent).
 */
export function planTransaction(conditions: TxnCondition[], operations: TxnOperation[], options?: TxnOptions): TransactionPlan {
  if (!Array.isArray(conditions)) throw new ValidationError([{ name: 'conditions', value: conditions, reason: 'must be a list' }]);
  if (!Array.isArray(operations)) throw new ValidationError([{ name: 'operations', value: operations, reason: 'must be a list' }]);
  if (operations.length > MAX_TXN_OPS) {
    throw new ValidationError([{ name: 'operations', value: operations.length, reason: `etcd allows at most ${MAX_TXN_OPS} operations per transaction` }]);
  }
  const compare: TxnCompare[] = [];
  const failure: TxnRequestOp[] = [];
  const checks: Check[] = [];
  conditions.forEach((condition, i) => {
    if (typeof condition !== 'object' || condition === null) {
      throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: CONDITION_SHAPE }]);
    }
    const { path, identifier } = prepareKey(condition.key);
    const key = Buffer.from(path);
    if ('absent' in condition && condition.absent === true) {
      compare.push({ key, target: 'version', result: 'equal', value: '0' });
      checks.push({ path, identifier, absent: true });
    } else if ('revision' in condition) {
      const revision = checkRevision(condition.revision, `conditions[${i}].revision`);
      compare.push({ key, target: 'mod', result: 'equal', value: revision });
      checks.push({ path, identifier, absent: false, revision });
    } else {
      throw new ValidationError([{ name: `conditions[${i}]`, value: condition, reason: CONDITION_SHAPE }]);
    }
    failure.push({ range: { key } });
  });
  const listConditions = options?.listConditions ?? [];
  if (!Array.isArray(listConditions)) throw new ValidationError([{ name: 'options.listConditions', value: listConditions, reason: 'must be an array' }]);
  listConditions.forEach((condition: ListCondition, i: number) => {
    if (typeof condition !== 'object' || condition === null) {
      throw new ValidationError([{ name: `options.listConditions[${i}]`, value: condition, reason: 'must be {list, notModifiedAfter}' }]);
    }
    // Every key under the list's prefixes has a mod revision <= notModifiedAfter (an empty range holds).
    validateList(condition.list);
    const after = checkRevision(condition.notModifiedAfter, `options.listConditions[${i}].notModifiedAfter`);
    const next = nextRevision(after);
    for (const prefix of listToPrefixes(condition.list)) {
      const start = Buffer.from(prefix);
      const end = prefixEnd(start);
      compare.push({ key: start, rangeEnd: end, target: 'mod', result: 'less', value: next });
      failure.push({ range: { key: start, rangeEnd: end, minModRevision: next, limit: 1, keysOnly: true } });
      checks.push({ list: condition.list, index: i, after, path: prefix });
    }
  });
  const success: TxnRequestOp[] = [];
  const results: { key: Key; put: boolean }[] = [];
  const seen = new Set<string>();
  operations.forEach((operation, i) => {
    if (typeof operation !== 'object' || operation === null || (operation.op !== 'put' && operation.op !== 'delete')) {
      throw new ValidationError([{ name: `operations[${i}].op`, value: (operation as { op?: unknown } | null)?.op, reason: "must be 'put' or 'delete'" }]);
    }
    const prepared = operation.op === 'put' ? prepareKey(operation.key, operation.value as ValueOf<Key>) : prepareKey(operation.key);
    if (seen.has(prepared.path)) {
      throw new ValidationError([{ name: `operations[${i}].key`, value: operation.key, reason: `${prepared.path} appears twice in one transaction` }]);
    }
    seen.add(prepared.path);
    const key = Buffer.from(prepared.path);
    success.push(operation.op === 'put' ? { put: { key, value: prepared.bytes! } } : { deleteRange: { key } });
    results.push({ key: prepared.canonical, put: operation.op === 'put' });
  });
  return { request: { compare, success, failure }, checks, results };
}

/**
 * The error of a failed transaction: the first condition that does not hold, read from the
 * failure ranges (`ranges[i]` answers `plan.checks[i]`). When every condition holds again (a
 * concurrent writer restored it meanwhile), a generic `UpdateConflictError`.
 */
export function transactionFailure(plan: TransactionPlan, ranges: readonly (FailureRange | undefined)[]): Error {
  for (let i = 0; i < plan.checks.length; i++) {
    const check = plan.checks[i]!;
    const kvs = ranges[i] ?? [];
    if (check.list !== undefined) {
      if (kvs.length > 0) {
        return new UpdateConflictError(`list ${describeList(check.list)}`, {
          message: `transaction conflict: listConditions[${check.index}]: ${kvs[0]!.key} changed at revision ${kvs[0]!.modRevision}, after ${check.after}`,
        });
      }
      continue;
    }
    if (check.absent && kvs.length > 0) return new ResourceExistsError(check.identifier);
    if (!check.absent && (kvs.length === 0 || kvs[0]!.modRevision !== check.revision)) {
      return new UpdateConflictError(check.identifier, {
        message: `transaction conflict: ${check.path} is ${kvs.length === 0 ? 'absent' : `at revision ${kvs[0]!.modRevision}`}, not ${check.revision}`,
      });
    }
  }
  return new UpdateConflictError('transaction', { message: 'transaction conflict: a condition changed while checking it' });
}

/** The contract's result of a committed transaction at `revision`. */
export function transactionResult(plan: TransactionPlan, revision: string): TxnResult {
  return { results: plan.results.map((r) => (r.put ? { key: r.key, revision } : { key: r.key })), revision };
}

/**
 * The pair a successful delete removed, from the delete's previous value. No previous value (or
 * nothing deleted) means the key was already gone: `ResourceNotFoundError`.
 * @throws DatastoreError when the removed value cannot be decoded (the delete did happen).
 */
export function deletedPair<K extends Key>(
  canonical: K,
  path: string,
  identifier: ErrorIdentifier,
  deleted: string | number | undefined,
  previous: { text: string; modRevision: string } | undefined,
): KVPair<K> {
  if (previous === undefined || Number(deleted ?? 0) === 0) throw new ResourceNotFoundError(identifier);
  try {
    return decodeStored(canonical, path, previous.text, previous.modRevision);
  } catch (error) {
    throw new DatastoreError(`${path} was deleted, but its previous value could not be decoded: ${(error as Error).message}`, {
      identifier: { key: path },
      cause: error,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Lists: every key under some prefixes, page by page at one pinned revision.

/** One page of a range read, in the transport's own key-value type. */
export interface RangePage<T> {
  kvs: T[];
  more: boolean;
  /** The store revision the page was read at. */
  revision: string;
}

/** Thrown by a transport's page reader when the pinned revision was compacted between two pages. */
export class PinnedRevisionCompacted extends Error {}

/**
 * Reads every key under `prefixes` at one revision: the first page fixes the revision, later
 * pages are read at it. A compaction between two pages ({@link PinnedRevisionCompacted} from
 * `readPage`) restarts the read, up to 3 times, then `DatastoreUnavailableError`.
 * @param readPage reads up to {@link LIST_PAGE_SIZE} keys of `[from, end)` (at `pinned` when given).
 * @param keyOf the raw key of a transport key-value (to continue after the last one).
 */
export async function readPrefixes<T>(
  prefixes: readonly string[],
  operation: string,
  readPage: (from: Buffer, end: Buffer, pinned: string | undefined) => Promise<RangePage<T>>,
  keyOf: (kv: T) => Buffer,
): Promise<{ kvs: T[]; revision: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readPrefixesOnce(prefixes, readPage, keyOf);
    } catch (error) {
      // A compaction between two pages invalidates the pinned revision: read again from scratch.
      if (error instanceof PinnedRevisionCompacted && attempt < 3) continue;
      if (error instanceof PinnedRevisionCompacted) throw new DatastoreUnavailableError(`${operation}: etcd compacted the list revision repeatedly`);
      throw error;
    }
  }
}

async function readPrefixesOnce<T>(
  prefixes: readonly string[],
  readPage: (from: Buffer, end: Buffer, pinned: string | undefined) => Promise<RangePage<T>>,
  keyOf: (kv: T) => Buffer,
): Promise<{ kvs: T[]; revision: string }> {
  const kvs: T[] = [];
  let revision: string | undefined;
  for (const prefix of prefixes) {
    const start = Buffer.from(prefix);
    const end = prefixEnd(start);
    let from = start;
    for (;;) {
      const page = await readPage(from, end, revision);
      revision ??= page.revision;
      for (const kv of page.kvs) kvs.push(kv);
      if (!page.more || page.kvs.length === 0) break;
      from = Buffer.concat([keyOf(page.kvs[page.kvs.length - 1]!), Buffer.from([0])]);
    }
  }
  return { kvs, revision: revision! };
}
