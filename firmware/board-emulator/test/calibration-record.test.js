// @ts-check
// The firmware's calibration record, read back by the board test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COEFFICIENTS_AT, RECORD_LEN, crc32, readCalibrationRecord } from '../src/calibration-record.js';

/** @param {number[]} coefficients */
function record(coefficients) {
  const bytes = new Uint8Array(RECORD_LEN);
  const view = new DataView(bytes.buffer);
  bytes.set([...'MNTC'].map((c) => c.charCodeAt(0)));
  view.setUint16(4, 1, true);
  coefficients.forEach((c, i) => view.setFloat32(COEFFICIENTS_AT + 4 * i, c, true));
  view.setUint32(32, crc32(bytes.subarray(0, 32)), true);
  return bytes;
}

test('crc32 is the IEEE CRC-32', () => {
  // The catalogue check value of CRC-32 (ISO-HDLC) for "123456789".
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('a record reads back its coefficients, and a flipped bit or an erased sector is refused', () => {
  const coefficients = [0, -0.09, 351, 0.067, 0, -17.5];
  const bytes = record(coefficients);
  assert.deepEqual(
    readCalibrationRecord(bytes).map((c) => Math.fround(c)),
    coefficients.map((c) => Math.fround(c)),
  );
  const flipped = bytes.slice();
  flipped[COEFFICIENTS_AT] ^= 1;
  assert.throws(() => readCalibrationRecord(flipped), /CRC/);
  assert.throws(() => readCalibrationRecord(new Uint8Array(RECORD_LEN).fill(0xff)), /magic/);
});
