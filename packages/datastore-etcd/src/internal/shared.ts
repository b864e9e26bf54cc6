/**
 * What both etcd transports of this package (gRPC in ../datastore.ts, the JSON gateway in
 * ../gateway/datastore.ts) do the same way: option and revision checks, TLS file loading,
 * key preparation and value decoding. Internal: not exported from any entry point.
 *
 * This module must stay free of `etcd3`, gRPC and `node:http`: the gateway entry imports it.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type * as Crypto from 'node:crypto';
import { DatastoreError, ValidationError, type ErrorIdentifier, type FieldError, type V3Object } from '@libcalico-ts/api';
import { keyIdentifier, keyMatchesList, keyToPath, pathToKey, type Key, type KVPair, type ListInterface, type ValueOf } from '@libcalico-ts/datastore';
import { decodeEtcdValue, encodeEtcdValue } from '../codec.js';

/** Keys per range request when listing; pages are read at one pinned revision. */
export const LIST_PAGE_SIZE = 500;
/** etcd's default `--max-txn-ops`. */
export const MAX_TXN_OPS = 128;

const REVISION = /^[1-9][0-9]{0,18}$/;

/** Returns `revision` when it is an etcd revision (positive decimal string), else a `ValidationError` naming `field`. */
export function checkRevision(revision: unknown, field = 'revision'): string {
  if (typeof revision !== 'string' || !REVISION.test(revision)) {
    throw new ValidationError([{ name: field, value: revision, reason: 'must be an etcd revision: a positive decimal integer string' }]);
  }
  return revision;
}

/** The revision after `revision` (decimal string arithmetic, exact beyond 2^53). */
export function nextRevision(revision: string): string {
  return (BigInt(revision) + 1n).toString();
}

/** Exclusive end of the range of keys starting with `prefix`. */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The options both transports share (see the two option interfaces for the documentation). */
export interface CommonEtcdOptions {
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  requestTimeoutMs?: number;
}

/**
 * Checks the endpoint list, the certificate/key pairing and the millisecond options named in
 * `timeouts`; all problems are reported together in one `ValidationError`.
 */
export function checkCommonOptions(options: CommonEtcdOptions, timeouts: readonly string[]): void {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError([{ name: 'options', value: options, reason: 'must be an object with endpoints' }]);
  }
  const fields: FieldError[] = [];
  if (!Array.isArray(options.endpoints) || options.endpoints.length === 0) {
    fields.push({ name: 'endpoints', value: options.endpoints, reason: 'must be a non-empty list of URLs' });
  } else {
    options.endpoints.forEach((endpoint, i) => {
      if (typeof endpoint !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
        fields.push({ name: `endpoints[${i}]`, value: endpoint, reason: 'must be an http:// or https:// URL with a host and port' });
      }
    });
  }
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    fields.push({ name: options.certFile === undefined ? 'certFile' : 'keyFile', value: undefined, reason: 'certFile and keyFile must be given together' });
  }
  for (const name of timeouts) {
    const v = (options as unknown as Record<string, unknown>)[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) fields.push({ name, value: v, reason: 'must be a positive number of milliseconds' });
  }
  if (fields.length > 0) throw new ValidationError(fields);
}

/** The TLS files of the options, read and checked. */
export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

function readPem(path: string | undefined, field: string): Buffer | undefined {
  if (path === undefined) return undefined;
  if (typeof path !== 'string' || path === '') throw new ValidationError([{ name: field, value: path, reason: 'must be a file path' }]);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ValidationError([{ name: field, value: path, reason: `cannot read the file: ${(error as Error).message}` }], { cause: error });
  }
}

/**
 * Reads `caFile`, `certFile` and `keyFile` and parses them before any TLS stack sees them, so that
 * a missing or corrupt file, a certificate given as the key, or a key that does not belong to the
 * certificate is a `ValidationError` naming the option (with the file path, never the content).
 */
export function loadTlsFiles(options: CommonEtcdOptions): TlsFiles {
  const ca = readPem(options.caFile, 'caFile');
  const cert = readPem(options.certFile, 'certFile');
  const key = readPem(options.keyFile, 'keyFile');
  if (ca === undefined && cert === undefined && key === undefined) return {};
  // Loaded on use (most datastores have no TLS files); require() works in a V8 startup snapshot.
  const crypto = createRequire(process.execPath)('node:crypto') as typeof Crypto;
  const problems: FieldError[] = [];
  let certificate: Crypto.X509Certificate | undefined;
  if (ca !== undefined) {
    try {
      new crypto.X509Certificate(ca);
    } catch {
      problems.push({ name: 'caFile', value: options.caFile, reason: 'is not a PEM certificate' });
    }
  }
  if (cert !== undefined) {
    try {
      certificate = new crypto.X509Certificate(cert);
    } catch {
      problems.push({ name: 'certFile', value: options.certFile, reason: 'is not a PEM certificate' });
    }
  }
  if (key !== undefined) {
    try {
      const privateKey = crypto.createPrivateKey(key);
      if (certificate && !certificate.checkPrivateKey(privateKey)) {
        problems.push({ name: 'keyFile', value: options.keyFile, reason: 'does not match the certificate in certFile' });
      }
    } catch {
      problems.push({ name: 'keyFile', value: options.keyFile, reason: 'is not a PEM private key' });
    }
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return { ...(ca !== undefined ? { ca } : {}), ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) };
}

/** A key ready to be sent: its path, its canonical form, its identifier and (for writes) the encoded value. */
export interface PreparedKey<K extends Key> {
  path: string;
  canonical: K;
  identifier: ErrorIdentifier;
  /** The value as stored (UTF-8 JSON), when one was given. */
  bytes?: Buffer;
}

/** Computes the path of `key` (validating it) and encodes `value` when given. */
export function prepareKey<K extends Key>(key: K, value?: ValueOf<K>): PreparedKey<K> {
  const path = keyToPath(key);
  const canonical = (pathToKey(path) ?? key) as K;
  const identifier = keyIdentifier(canonical);
  if (value === undefined) return { path, canonical, identifier };
  return { path, canonical, identifier, bytes: Buffer.from(encodeEtcdValue(canonical, value), 'utf8') };
}

/**
 * Decodes a stored value into a pair at `revision` (the key's mod revision). Resources carry the
 * revision as `metadata.resourceVersion`, as Calico's clients return them.
 * @throws DatastoreError naming the key when the value cannot be decoded.
 */
export function decodeStored<K extends Key>(key: K, path: string, text: string, revision: string): KVPair<K> {
  let value: ValueOf<K>;
  try {
    value = decodeEtcdValue(key, text);
  } catch (error) {
    throw new DatastoreError(`cannot decode the value stored at ${path}: ${(error as Error).message}`, {
      identifier: keyIdentifier(key),
      cause: error,
    });
  }
  if (key.type === 'resource') (value as V3Object).metadata.resourceVersion = revision;
  return { key, value, revision };
}

/** A listed key decoded: the pair, or the error its value gave. */
export interface DecodedKV {
  pair?: KVPair;
  error?: Error;
}

/**
 * Decodes a key found by a range read. `undefined` when the path is not a Calico key or not one
 * of `list` (prefix ranges also hold keys of other kinds).
 */
export function decodeListed(path: string, text: string, revision: string, list?: ListInterface): DecodedKV | undefined {
  const key = pathToKey(path);
  if (key === undefined || (list !== undefined && !keyMatchesList(key, list))) return undefined;
  try {
    return { pair: decodeStored(key, path, text, revision) };
  } catch (error) {
    return { error: error as Error };
  }
}
