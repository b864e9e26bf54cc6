/**
 * Calico's UID conversion between a v3 object and its `crd.projectcalico.org/v1` CR: the bit
 * order inside every byte of the UUID is reversed, except bytes 6 and 8 (which carry the UUID
 * version and variant). The conversion is its own inverse.
 */
import { ValidationError } from '@libcalico-ts/api';

const UUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const REVERSED = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  let r = 0;
  for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) r |= 1 << (7 - bit);
  REVERSED[b] = r;
}

/**
 * Converts a v3 UID to the CR UID or back (`30316465-6365-4463-ad63-3564622d3638` <->
 * `0c8c26a6-c6a6-44c6-adc6-ac2646b46c1c`). Output is lowercase.
 * Fails with `ValidationError` when `uid` is not a UUID.
 */
export function convertUid(uid: string): string {
  if (!UUID_PATTERN.test(uid)) {
    throw new ValidationError([{ name: 'metadata.uid', value: uid, reason: 'not a UUID' }]);
  }
  const hex = uid.replace(/-/g, '').toLowerCase();
  let out = '';
  for (let i = 0; i < 16; i++) {
    const byte = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    const converted = i === 6 || i === 8 ? byte : REVERSED[byte];
    out += converted.toString(16).padStart(2, '0');
    if (i === 3 || i === 5 || i === 7 || i === 9) out += '-';
  }
  return out;
}

/** {@link convertUid} for values that may be absent or not UUIDs (returned unchanged then). */
export function convertUidLoose(uid: string | undefined): string | undefined {
  if (uid === undefined || !UUID_PATTERN.test(uid)) return uid;
  return convertUid(uid);
}
