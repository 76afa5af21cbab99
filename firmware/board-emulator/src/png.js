// @ts-check
/**
 * @file PNG files of emulated screens: RGB565 frames written as 8-bit RGB, with the channel
 * scaling embedded-graphics uses (`(v * 255 + max / 2) / max`), so that a screen the emulator
 * saves and one the desktop simulator saves agree byte for byte when their RGB565 pixels do.
 */
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** @param {Uint8Array} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * One RGB565 pixel as 8-bit R, G, B.
 *
 * @param {number} rgb565
 * @returns {[number, number, number]}
 */
export function rgb888(rgb565) {
  const scale = (/** @type {number} */ v, /** @type {number} */ max) =>
    Math.floor((v * 255 + (max >> 1)) / max);
  return [scale(rgb565 >> 11, 31), scale((rgb565 >> 5) & 0x3f, 63), scale(rgb565 & 0x1f, 31)];
}

/**
 * Encodes a row-major RGB565 frame as a PNG file.
 *
 * @param {number} width
 * @param {number} height
 * @param {Uint16Array} pixels `width * height` RGB565 values, row-major.
 * @returns {Buffer}
 */
export function encodePng(width, height, pixels) {
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb888(pixels[y * width + x]);
      raw.set([r, g, b], row + 1 + x * 3);
    }
  }
  const chunk = (/** @type {string} */ type, /** @type {Uint8Array} */ data) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, truecolour, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array()),
  ]);
}
