// @ts-check
/**
 * @file Reads the touch calibration record the firmware keeps in its flash's last sector, so
 * that the board test can check what was written there independently of the firmware's own
 * reading: the layout is app::calibration_record's (firmware/app/src/calibration_record.rs),
 * little-endian: "MNTC", u16 version 1, u16 zero, six f32 coefficients, CRC-32 (IEEE) of the
 * 32 bytes before it.
 */

/** The bytes a record takes. */
export const RECORD_LEN = 36;
const MAGIC = 'MNTC';
const VERSION = 1;
/** Where the coefficients start: a byte flipped there makes a record the CRC refuses. */
export const COEFFICIENTS_AT = 8;

/**
 * CRC-32 as zlib computes it (reflected, polynomial 0xedb88320, initial and final XOR all ones).
 *
 * @param {Uint8Array} bytes
 */
export function crc32(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * The coefficients `[a, b, c, d, e, f]` of the record at the start of `bytes`; throws with the
 * reason when it is no valid record.
 *
 * @param {Uint8Array} bytes
 * @returns {number[]}
 */
export function readCalibrationRecord(bytes) {
  if (bytes.length < RECORD_LEN) throw new Error(`${bytes.length} bytes, shorter than a record (${RECORD_LEN})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, RECORD_LEN);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== MAGIC) throw new Error(`magic ${JSON.stringify(magic)}, not ${MAGIC}`);
  const version = view.getUint16(4, true);
  if (version !== VERSION) throw new Error(`version ${version}, not ${VERSION}`);
  const stored = view.getUint32(32, true);
  const computed = crc32(bytes.subarray(0, 32));
  if (stored !== computed) throw new Error(`CRC 0x${stored.toString(16)} stored, 0x${computed.toString(16)} computed`);
  return [0, 1, 2, 3, 4, 5].map((i) => view.getFloat32(COEFFICIENTS_AT + 4 * i, true));
}
