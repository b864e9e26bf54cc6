import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CalicoError } from '@libcalico-ts/api';
import { BlockLimitError, IPAMError, IPInCooldownError, MaxRetriesError, NoQualifiedPoolError, StrictAffinityRequiredError } from './errors.js';

const classes = [
  ['BlockLimitError', BlockLimitError, () => new BlockLimitError()],
  ['NoQualifiedPoolError', NoQualifiedPoolError, () => new NoQualifiedPoolError('Tunnel')],
  ['StrictAffinityRequiredError', StrictAffinityRequiredError, () => new StrictAffinityRequiredError()],
  ['MaxRetriesError', MaxRetriesError, () => new MaxRetriesError()],
  ['IPInCooldownError', IPInCooldownError, () => new IPInCooldownError('10.0.0.1')],
  ['IPAMError', IPAMError, () => new IPAMError('noBlock', 'failed to find or claim a block')],
] as const;

describe('ipam error classes', () => {
  for (const [name, cls, make] of classes) {
    it(`${name} declares its own errorName, used for name and isInstance`, () => {
      assert.ok(Object.prototype.hasOwnProperty.call(cls, 'errorName'), 'own static errorName');
      assert.equal(cls.errorName, name);
      const error = make();
      assert.equal(error.name, name);
      assert.ok(cls.isInstance(error));
      assert.ok(CalicoError.isInstance(error));
    });
  }

  it('other classes are not taken for each other', () => {
    assert.ok(!BlockLimitError.isInstance(new MaxRetriesError()));
    assert.ok(!IPAMError.isInstance(new BlockLimitError()));
  });
});
