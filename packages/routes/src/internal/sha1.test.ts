/** The pure-JS SHA-1 (single-block ASCII fast path and the general path) against node:crypto. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sha1 } from './sha1.js';

describe('sha1', () => {
  it('matches node:crypto for ASCII of every length 0-300 (fast path up to 55 bytes)', () => {
    for (let length = 0; length <= 300; length++) {
      const text = Array.from({ length }, (_, i) => String.fromCharCode(32 + ((i * 7 + length) % 95))).join('');
      assert.deepEqual(Buffer.from(sha1(text)), createHash('sha1').update(text).digest(), `length ${length}`);
    }
  });

  it('matches node:crypto for non-ASCII text and for bytes, and is not disturbed by a previous long input', () => {
    for (const text of ['ü', 'nöde-1', '节点-7', '\u{1f600}', 'x'.repeat(54) + 'é', 'é'.repeat(40)]) {
      assert.deepEqual(Buffer.from(sha1(text)), createHash('sha1').update(text).digest(), text);
    }
    const data = Uint8Array.from({ length: 129 }, (_, i) => (i * 31) & 255);
    assert.deepEqual(Buffer.from(sha1(data)), createHash('sha1').update(data).digest());
    sha1('z'.repeat(500));
    assert.deepEqual(Buffer.from(sha1('node-a')), createHash('sha1').update('node-a').digest());
  });
});
