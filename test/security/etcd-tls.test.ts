// etcd with TLS client-certificate authentication (etcd --client-cert-auth): the datastore
// connects with its certificate; without a client certificate, with one from an untrusted CA or
// over plain HTTP it is refused with a typed error and writes nothing; and no error message,
// stack or log line ever contains key material — including for a bad key file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CalicoError, DatastoreUnavailableError } from '@libcalico-ts/api';
import type { Datastore } from '@libcalico-ts/datastore';
import { createEtcdDatastore, type EtcdDatastoreOptions } from '@libcalico-ts/datastore-etcd';
import { createIPAM } from '@libcalico-ts/ipam';
import { startEtcd, type EtcdServer } from '../helpers/etcd.js';
import { captureOutput, errorText, leaked, pemFragments } from '../helpers/reliability-secrets.js';
import { seed as put, withTimeout } from '../helpers/reliability.js';

let etcd: EtcdServer;
let scratch: string;
let secretFragments: string[];

before(async () => {
  etcd = await startEtcd({ tls: true });
  scratch = mkdtempSync(join(tmpdir(), 'lcts-security-'));
  const tls = etcd.tls!;
  secretFragments = [...pemFragments(tls.clientKeyFile), ...pemFragments(tls.rogueClientKeyFile), ...pemFragments(tls.serverKeyFile), ...pemFragments(tls.caKeyFile)];
  assert.ok(secretFragments.length > 10, 'key fragments to look for');
});
after(async () => {
  await etcd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function options(extra: Partial<EtcdDatastoreOptions> = {}): EtcdDatastoreOptions {
  const tls = etcd.tls!;
  return { endpoints: etcd.endpoints, caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile, dialTimeoutMs: 2_000, requestTimeoutMs: 3_000, ...extra };
}

/** Runs `fn` on a datastore built from `opts`, capturing logs; returns the error (or undefined). */
async function attempt(opts: EtcdDatastoreOptions, fn: (ds: Datastore) => Promise<unknown>): Promise<{ error: unknown; output: string }> {
  let ds: Datastore | undefined;
  const { error, output } = await captureOutput(async () => {
    ds = createEtcdDatastore(opts);
    await withTimeout(Promise.resolve(fn(ds)), 15_000, 'refused request');
  });
  await ds?.close().catch(() => {});
  return { error, output };
}

function assertNoKeyMaterial(what: string, text: string): void {
  const found = leaked(text, secretFragments);
  assert.deepEqual(found, [], `${what} contains key material`);
}

describe('etcd with client-certificate authentication', () => {
  test('the datastore connects with its client certificate; IPAM works over TLS', async () => {
    const { error, output } = await attempt(options(), async (ds) => {
      await put.pool(ds, 'tls-pool', '10.210.0.0/24', { blockSize: 28 });
      await put.node(ds, 'tls-node');
      const out = await createIPAM(ds).autoAssign({ num4: 1, hostname: 'tls-node', intendedUse: 'Workload', handleId: 'tls.h' });
      assert.equal(out.ipv4?.ips.length, 1);
      const listed = await ds.listKV({ type: 'resource', kind: 'IPPool' });
      assert.deepEqual(listed.items.map((i) => i.key.name), ['tls-pool']);
    });
    assert.equal(error, undefined, `TLS connection failed: ${errorText(error).slice(0, 500)}`);
    assertNoKeyMaterial('output of a TLS session', output);
  });

  const refusals: { name: string; opts: () => EtcdDatastoreOptions }[] = [
    { name: 'no client certificate (CA only)', opts: () => ({ endpoints: etcd.endpoints, caFile: etcd.tls!.caFile, dialTimeoutMs: 2_000, requestTimeoutMs: 3_000 }) },
    { name: 'a client certificate from an untrusted CA', opts: () => options({ certFile: etcd.tls!.rogueClientCertFile, keyFile: etcd.tls!.rogueClientKeyFile }) },
    { name: 'plain HTTP to the TLS port', opts: () => ({ endpoints: etcd.endpoints.map((e) => e.replace('https:', 'http:')), dialTimeoutMs: 2_000, requestTimeoutMs: 3_000 }) },
  ];
  for (const r of refusals) {
    test(`refused with ${r.name}: typed error, nothing written, no key material in the error or logs`, async () => {
      const { error, output } = await attempt(r.opts(), (ds) => put.pool(ds, `refused-${r.name.length}`, '10.211.0.0/24'));
      assert.ok(error !== undefined, 'the write was refused');
      assert.ok(CalicoError.isInstance(error), `typed error, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
      assert.ok(DatastoreUnavailableError.isInstance(error), `DatastoreUnavailableError, got ${(error as Error).name}`);
      assertNoKeyMaterial('the refusal error', errorText(error));
      assertNoKeyMaterial('the logs', output);
      // Nothing was written (checked with the trusted client).
      const check = await attempt(options(), async (ds) => {
        const pools = await ds.listKV({ type: 'resource', kind: 'IPPool' });
        assert.ok(!pools.items.some((p) => p.key.name.startsWith('refused-')), 'no pool written by the refused client');
      });
      assert.equal(check.error, undefined, errorText(check.error).slice(0, 300));
    });
  }

  const badKeys: { name: string; content: () => string }[] = [
    {
      name: 'a corrupt private key',
      content: () => {
        const key = readFileSync(etcd.tls!.clientKeyFile, 'utf8');
        // Keep the real base64 body but break the DER inside: the content is secret-looking.
        return key.replace(/\n([A-Za-z0-9+/]{10})/, '\n$1!!!!');
      },
    },
    { name: 'the key of another certificate', content: () => readFileSync(etcd.tls!.rogueClientKeyFile, 'utf8') },
    { name: 'a certificate instead of a key', content: () => readFileSync(etcd.tls!.clientCertFile, 'utf8') },
    { name: 'the CA private key (EC parameters + SEC1)', content: () => readFileSync(etcd.tls!.caKeyFile, 'utf8') },
  ];
  for (const bad of badKeys) {
    test(`a bad key file (${bad.name}): typed error without the key's content, in errors and logs`, async () => {
      const path = join(scratch, `bad-${bad.name.replace(/\W+/g, '-')}.key`);
      writeFileSync(path, bad.content(), { mode: 0o600 });
      const { error, output } = await attempt(options({ keyFile: path }), (ds) => put.pool(ds, 'badkey', '10.212.0.0/24'));
      assert.ok(error !== undefined, 'a bad key is refused (at creation or at the first request)');
      // Secrecy first (so a failure of the typing check below still proves nothing leaked).
      assertNoKeyMaterial('the error', errorText(error));
      assertNoKeyMaterial('the logs', output);
      const fileFragments = pemFragments(path);
      assert.deepEqual(leaked(errorText(error) + output, fileFragments), [], "the bad file's own content is not echoed");
      assert.ok(CalicoError.isInstance(error), `typed error, got ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
    });
  }

  test('an unreadable key file path: ValidationError naming the field, not the content', async () => {
    const { error } = await attempt(options({ keyFile: join(scratch, 'missing.key') }), async () => {});
    assert.ok(CalicoError.isInstance(error));
    assert.match((error as Error).message, /keyFile/);
  });
});
