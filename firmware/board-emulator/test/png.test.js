// @ts-check
// Screens as PNG files: the same bytes the desktop simulator writes for the same pixels.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { encodePng, rgb888 } from '../src/png.js';

test('PNG pixels are RGB565 scaled as embedded-graphics scales them', () => {
  assert.deepEqual(rgb888(0xffff), [255, 255, 255]);
  assert.deepEqual(rgb888(0x0841), [8, 8, 8]); // 1/31, 2/63, 1/31 of full scale
  const png = encodePng(2, 1, Uint16Array.from([0xf800, 0x001f]));
  const idat = png.indexOf('IDAT');
  const length = png.readUInt32BE(idat - 4);
  const raw = inflateSync(png.subarray(idat + 4, idat + 4 + length));
  assert.deepEqual([...raw], [0, 255, 0, 0, 0, 0, 255]);
});
