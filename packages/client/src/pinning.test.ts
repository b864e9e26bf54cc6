import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CalicoError, ValidationError } from '@libcalico-ts/api';
import { createMemoryDatastore } from '@libcalico-ts/datastore';
import { createClient } from './client.js';
import { PinningError, pinReservationName } from './pinning.js';

describe('pinReservationName', () => {
  it('names IPv4 addresses by their dotted quad and IPv6 by eight 4-digit groups', () => {
    assert.equal(pinReservationName('10.244.1.7'), 'pin-10-244-1-7');
    assert.equal(pinReservationName(' 10.0.0.1 '), 'pin-10-0-0-1');
    assert.equal(pinReservationName('fd00::'), 'pin-fd00-0000-0000-0000-0000-0000-0000-0000');
    assert.equal(pinReservationName('::1'), 'pin-0000-0000-0000-0000-0000-0000-0000-0001');
    assert.equal(pinReservationName('FD00:10::7'), pinReservationName('fd00:10:0:0::7'));
    // IPv4-mapped IPv6 is the IPv4 address (as Go parses it).
    assert.equal(pinReservationName('::ffff:10.0.0.1'), 'pin-10-0-0-1');
    for (const name of ['pin-10-244-1-7', pinReservationName('fd00::'), pinReservationName('::')]) {
      assert.match(name, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, `${name} is a Kubernetes object name`);
    }
  });

  it('refuses anything but an address', () => {
    for (const bad of ['', '10.0.0.0/24', '10.0.0', 'fd00::/64', 'host']) {
      assert.throws(() => pinReservationName(bad), (e) => ValidationError.isInstance(e) && (e as ValidationError).fields[0]!.name === 'ip', bad);
    }
  });
});

describe('PinningError', () => {
  it('is a ValidationError with a code, the address and the field', () => {
    const error = new PinningError('allocated', '10.0.0.1', { name: 'ip', value: '10.0.0.1', reason: 'already allocated to handle h' });
    assert.ok(PinningError.isInstance(error));
    assert.ok(ValidationError.isInstance(error));
    assert.ok(CalicoError.isInstance(error));
    assert.ok(!PinningError.isInstance(new ValidationError([])));
    assert.equal(error.name, 'PinningError');
    assert.equal(error.code, 'allocated');
    assert.equal(error.ip, '10.0.0.1');
    assert.equal(error.message, '10.0.0.1: already allocated to handle h');
    assert.deepEqual(error.fields, [{ name: 'ip', value: '10.0.0.1', reason: 'already allocated to handle h' }]);
  });
});

describe('client.pinning settle time', () => {
  it('defaults to the IPAM cache lifetime (0 unless ipam.cacheTtlMs is set) on datastores whose engines cache, else 0; a bad value is refused', async () => {
    const run = async (options: Parameters<typeof createClient>[0], expected: number[]) => {
      const slept: number[] = [];
      const client = createClient({ ...options, poolDeletionDelayMs: 0, sleep: async (ms) => void slept.push(ms) });
      await client.ipPools.create({ kind: 'IPPool', apiVersion: 'projectcalico.org/v3', metadata: { name: 'p' }, spec: { cidr: '10.0.0.0/24' } });
      await client.pinning.pin({ ip: '10.0.0.1' });
      assert.deepEqual(slept, expected);
      await client.close();
    };
    await run({ datastore: createMemoryDatastore() }, []); // engines re-read reservations on every call by default
    await run({ datastore: createMemoryDatastore(), ipam: { cacheTtlMs: 40 } }, [40]);
    await run({ datastore: createMemoryDatastore(), pinSettleMs: 5 }, [5]);
    await run({ datastore: createMemoryDatastore(), ipam: { useTransactions: false } }, []);
    await run({ datastore: createMemoryDatastore({ atomicTransactions: false }) }, []);
    assert.throws(() => createClient({ datastore: createMemoryDatastore(), pinSettleMs: -1 }), (e) => ValidationError.isInstance(e));
  });
});
