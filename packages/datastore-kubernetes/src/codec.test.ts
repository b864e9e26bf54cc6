import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParseError, ResourceNotFoundError, UpdateConflictError, ValidationError, WatchTooOldError, DatastoreUnavailableError, DatastoreError } from '@libcalico-ts/api';
import { parseJson, stringifyJson } from './json.js';
import { convertUid } from './uid.js';
import { base32NoPad, blockAffinityName, blockName, handleName, hostnameHash } from './names.js';
import { errorFromResponse, translateError } from './errors.js';
import { podWorkloadEndpointName, vethNameForPod } from './mapping/native.js';

describe('lossless JSON', () => {
  it('keeps integers beyond 2^53 exact and round-trips them', () => {
    const text = '{"a":1772359200000000002,"b":[18446744073709551615,-9223372036854775808],"c":1.5,"d":"12345678901234567890","e":9007199254740991}';
    const v = parseJson(text) as Record<string, unknown>;
    assert.equal(v.a, 1772359200000000002n);
    assert.deepEqual(v.b, [18446744073709551615n, -9223372036854775808n]);
    assert.equal(v.c, 1.5);
    assert.equal(v.d, '12345678901234567890');
    assert.equal(v.e, 9007199254740991);
    assert.equal(stringifyJson(v), text);
  });
  it('matches JSON.parse on ordinary documents, including escapes and __proto__', () => {
    const text = '{"s":"a\\"b\\u00e9\\n","n":null,"t":true,"f":false,"arr":[],"o":{},"__proto__":{"x":1},"x":-0.25e3}';
    assert.deepEqual(parseJson(text + ' '.repeat(0)), JSON.parse(text));
    assert.equal(stringifyJson({ u: undefined, a: [undefined, 1n], n: NaN }), '{"a":[null,1],"n":null}');
  });
  it('rejects malformed JSON with ParseError and its position', () => {
    for (const bad of ['{"a":12345678901234567890,}', '[1,2', '{"a" 1}', '"abc', '01', '{"a":1} x']) {
      assert.throws(() => parseJson(bad), (e: unknown) => ParseError.isInstance(e) && typeof (e as ParseError).position === 'number', bad);
    }
  });
});

describe('UID conversion', () => {
  it('matches the upstream test vector both ways', () => {
    assert.equal(convertUid('30316465-6365-4463-ad63-3564622d3638'), '0c8c26a6-c6a6-44c6-adc6-ac2646b46c1c');
    assert.equal(convertUid('0c8c26a6-c6a6-44c6-adc6-ac2646b46c1c'), '30316465-6365-4463-ad63-3564622d3638');
    assert.equal(convertUid('11f27d4a-0c2e-4b7d-9a3e-5b6c7d8e9f00'), '884fbe52-3074-4bbe-9a7c-da36be71f900');
  });
  it('rejects non-UUIDs with ValidationError', () => {
    assert.throws(() => convertUid('not-a-uid'), (e: unknown) => ValidationError.isInstance(e));
  });
});

describe('IPAM CR names and labels', () => {
  it('hostname hash: the upstream golden value and RFC 4648 base32', () => {
    assert.equal(hostnameHash('node-a'), 'PY3TQE2E3XMTETLM2MJO3UITKPFB27YUJ4T4E5XGPEJON3SM4QAA');
    assert.equal(hostnameHash('node-1'), 'A3XPYDATRKB7Q4SM2O5FN4RXIHBFIL2PITFX26BAIP5XAB2X74CA');
    assert.equal(base32NoPad(Buffer.from('foobar')), 'MZXW6YTBOI');
    assert.equal(base32NoPad(Buffer.from('f')), 'MY');
  });
  it('block, affinity and handle names', () => {
    assert.equal(blockName('192.168.84.128/26'), '192-168-84-128-26');
    assert.equal(blockName('fd00:10:244::/122'), 'fd00-10-244---122');
    assert.equal(blockAffinityName('node-1', '192.168.84.128/26'), 'node-1-192-168-84-128-26');
    assert.equal(handleName('k8s-pod-network.ABC'), 'k8s-pod-network.abc');
  });
  it('long affinity names are truncated with a SHA-256 suffix under 253 characters', () => {
    const host = 'h'.repeat(250);
    const name = blockAffinityName(host, '10.0.0.0/26');
    assert.equal(name.length, 252);
    assert.match(name, /^h+-10-0-0-0-26-[0-9a-f]{11}$/);
    assert.notEqual(name, blockAffinityName('h'.repeat(251), '10.0.0.0/26'));
    const edge = 'x'.repeat(253 - '-10-0-0-0-26'.length - 1);
    assert.equal(blockAffinityName(edge, '10.0.0.0/26'), `${edge}-10-0-0-0-26`);
  });
  it('workload endpoint names and veth names (upstream vectors)', () => {
    assert.equal(podWorkloadEndpointName('node-1', 'nginx-6799fc88d8-x2vqk'), 'node--1-k8s-nginx--6799fc88d8--x2vqk-eth0');
    assert.equal(vethNameForPod('default', 'podA'), 'cali7f94ce7c295');
    assert.equal(vethNameForPod('default', 'nginx-6799fc88d8-x2vqk'), 'caliec0a6415ef1');
  });
});

describe('error translation', () => {
  const id = { kind: 'IPPool', name: 'p' };
  it('maps Status bodies by reason and code', () => {
    const status = (code: number, reason: string) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'm', reason, code });
    assert.ok(ResourceNotFoundError.isInstance(errorFromResponse(404, status(404, 'NotFound'), id)));
    assert.ok(UpdateConflictError.isInstance(errorFromResponse(409, status(409, 'Conflict'), id)));
    assert.ok(WatchTooOldError.isInstance(errorFromResponse(410, status(410, 'Expired'), id)));
    const invalid = errorFromResponse(422, JSON.stringify({ kind: 'Status', reason: 'Invalid', code: 422, message: 'bad', details: { causes: [{ field: 'spec.cidr', message: 'Required value' }] } }), id);
    assert.ok(ValidationError.isInstance(invalid));
    assert.deepEqual((invalid as ValidationError).fields.map((f) => f.name), ['spec.cidr']);
    const unavailable = errorFromResponse(503, status(503, 'ServiceUnavailable'), id);
    assert.ok(DatastoreUnavailableError.isInstance(unavailable) && unavailable.isRetryable);
  });
  it('parses bodies defensively (HTML, truncated JSON, empty)', () => {
    const html = errorFromResponse(502, '<html><body>Bad Gateway</body></html>', id);
    assert.ok(DatastoreUnavailableError.isInstance(html));
    assert.match(html.message, /Bad Gateway/);
    assert.ok(ResourceNotFoundError.isInstance(errorFromResponse(404, '{"kind":"Sta', id)));
    assert.ok(DatastoreError.isInstance(errorFromResponse(401, '', id)));
  });
  it('translates ApiException-like and socket errors, never leaking them', () => {
    const apiException = Object.assign(new Error('HTTP-Code: 409'), { code: 409, body: '{"kind":"Status","reason":"AlreadyExists","code":409}', headers: {} });
    const translated = translateError(apiException, id);
    assert.equal(translated.name, 'ResourceExistsError');
    const refused = translateError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    assert.ok(DatastoreUnavailableError.isInstance(refused) && refused.isRetryable);
    const tls = translateError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
    assert.ok(DatastoreUnavailableError.isInstance(tls) && !tls.isRetryable);
  });
});
