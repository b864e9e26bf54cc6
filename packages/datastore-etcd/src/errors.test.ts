import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DatastoreError, DatastoreUnavailableError, WatchTooOldError } from '@libcalico-ts/api';
import { EtcdGatewayStatusError, translateEtcdError } from './errors.js';
import { Http1ConnectionError } from './gateway/http1.js';

describe('translateEtcdError: gateway answers and transport failures', () => {
  it('maps gRPC status codes of gateway answers like the gRPC error classes', () => {
    for (const code of [1, 4, 8, 10, 13, 14]) {
      const error = translateEtcdError(new EtcdGatewayStatusError('etcdserver: no leader', 500, code));
      assert.ok(DatastoreUnavailableError.isInstance(error), `code ${code}`);
      assert.equal(error.isRetryable, true, `code ${code}`);
    }
    for (const code of [7, 16]) {
      const error = translateEtcdError(new EtcdGatewayStatusError('etcdserver: permission denied', 403, code));
      assert.ok(DatastoreUnavailableError.isInstance(error), `code ${code}`);
      assert.equal(error.isRetryable, false, `code ${code}: credentials do not get better by retrying`);
    }
    const invalid = translateEtcdError(new EtcdGatewayStatusError('etcdserver: too many operations in txn request', 400, 3), { operation: 'transaction' });
    assert.ok(DatastoreError.isInstance(invalid) && !DatastoreUnavailableError.isInstance(invalid));
    assert.match(invalid.message, /^transaction: etcd request failed: etcdserver: too many operations/);
  });

  it('maps HTTP 502/503/504 without a code to unavailable, a compacted revision to WatchTooOldError', () => {
    for (const status of [502, 503, 504]) assert.ok(DatastoreUnavailableError.isInstance(translateEtcdError(new EtcdGatewayStatusError('bad gateway', status, undefined))));
    const old = translateEtcdError(new EtcdGatewayStatusError('etcdserver: mvcc: required revision has been compacted', 400, 11), { revision: '42' });
    assert.ok(WatchTooOldError.isInstance(old));
  });

  it('maps every HTTP client failure to a retryable DatastoreUnavailableError', () => {
    for (const message of ['connect ECONNREFUSED 127.0.0.1:1', 'no answer within 300 ms', 'connection closed before the response was complete', 'malformed HTTP response: bad chunk']) {
      const error = translateEtcdError(new Http1ConnectionError(message, true));
      assert.ok(DatastoreUnavailableError.isInstance(error), message);
      assert.equal(error.isRetryable, true, message);
    }
  });
});
