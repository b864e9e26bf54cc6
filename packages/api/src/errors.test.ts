import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  CalicoError,
  DatastoreError,
  DatastoreUnavailableError,
  ParseError,
  ResourceNotFoundError,
  UpdateConflictError,
  ValidationError,
  WatchTooOldError,
} from './errors.js';

describe('CalicoError', () => {
  it('sets name, cause, identifier and retryability', () => {
    const cause = new Error('boom');
    const error = new UpdateConflictError({ kind: 'IPPool', name: 'p' }, { cause });
    assert.equal(error.name, 'UpdateConflictError');
    assert.equal(error.cause, cause);
    assert.deepEqual(error.identifier, { kind: 'IPPool', name: 'p' });
    assert.equal(error.isRetryable, true);
    assert.match(error.message, /IPPool\(p\)/);
  });

  it('isInstance follows the class hierarchy', () => {
    const error = new WatchTooOldError('42');
    assert.ok(WatchTooOldError.isInstance(error));
    assert.ok(DatastoreError.isInstance(error));
    assert.ok(CalicoError.isInstance(error));
    assert.ok(!DatastoreUnavailableError.isInstance(error));
    assert.ok(!ValidationError.isInstance(error));
    assert.ok(!CalicoError.isInstance(new Error('plain')));
    assert.ok(!CalicoError.isInstance(null));
  });

  it('ValidationError lists every field', () => {
    const error = new ValidationError([
      { name: 'spec.cidr', value: 'x', reason: 'bad CIDR' },
      { name: 'spec.blockSize', value: 99, reason: 'out of range' },
    ]);
    assert.equal(error.fields.length, 2);
    assert.match(error.message, /spec\.cidr: bad CIDR; spec\.blockSize: out of range/);
  });

  it('is recognised across separately minified bundles (minifiers rename classes)', async () => {
    const source = fileURLToPath(new URL('./errors.ts', import.meta.url));
    const bundle = async (contents: string) => {
      const result = await build({
        stdin: { contents, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' },
        bundle: true,
        minify: true,
        format: 'esm',
        write: false,
        platform: 'neutral',
      });
      const code = result.outputFiles[0]!.text;
      return (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
    };
    const thrower = await bundle(
      `import { ResourceNotFoundError, ParseError } from ${JSON.stringify(source)};
       export const notFound = () => new ResourceNotFoundError({ key: '/calico/x' });
       export const parse = () => new ParseError('bad');`,
    );
    const checker = await bundle(
      `import { ResourceNotFoundError, ParseError, CalicoError } from ${JSON.stringify(source)};
       export const isNotFound = (e) => ResourceNotFoundError.isInstance(e);
       export const isParse = (e) => ParseError.isInstance(e);
       export const isCalico = (e) => CalicoError.isInstance(e);`,
    );
    const notFound = (thrower.notFound as () => Error)();
    assert.equal(notFound.name, 'ResourceNotFoundError', 'the name survives minification');
    assert.ok((checker.isNotFound as (e: unknown) => boolean)(notFound));
    assert.ok((checker.isCalico as (e: unknown) => boolean)(notFound));
    assert.ok(!(checker.isParse as (e: unknown) => boolean)(notFound));
    assert.ok((checker.isParse as (e: unknown) => boolean)((thrower.parse as () => Error)()));
    // And the unminified classes of this copy agree with the minified copies.
    assert.ok(ResourceNotFoundError.isInstance(notFound));
    assert.ok(!ParseError.isInstance(notFound));
  });
});
