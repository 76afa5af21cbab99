// @ts-check
// The XPT2046 model: known finger positions give known conversions, in the frame the driver
// reads (busy clock, 12 bits, zeros), with the pen interrupt while the finger is down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHANNEL, RESTOUCH_2_8, Xpt2046 } from '../src/xpt2046.js';

/** A 12-bit differential conversion as app::touch's driver makes it: control byte (with the
 * power-down bits `powerDown`), 2 reads. */
function convert(/** @type {Xpt2046} */ touch, /** @type {number} */ channel, powerDown = 0b00) {
  touch.transfer(0x80 | (channel << 4) | powerDown);
  const [high, low] = [touch.transfer(0), touch.transfer(0)];
  return (((high << 8) | low) >> 3) & 0xfff;
}

test('the corners and the centre of the screen read as the panel nominal ranges', () => {
  const touch = new Xpt2046();
  for (const [finger, x, y] of [
    [{ x: 0, y: 0 }, 262, 3880],
    [{ x: 320, y: 240 }, 3850, 340],
    [{ x: 160, y: 120 }, 2056, 2110],
  ]) {
    touch.touch(/** @type {{ x: number, y: number }} */ (finger));
    assert.equal(convert(touch, CHANNEL.X), x);
    assert.equal(convert(touch, CHANNEL.Y), y);
  }
});

test('pressure readings give back the contact resistance by the datasheet formula', () => {
  const touch = new Xpt2046();
  for (const contactOhms of [300, 500, 3000]) {
    touch.touch({ x: 100, y: 80, contactOhms });
    const [x, z1, z2] = [convert(touch, CHANNEL.X), convert(touch, CHANNEL.Z1), convert(touch, CHANNEL.Z2)];
    const resistance = RESTOUCH_2_8.xPlateOhms * (x / 4096) * (z2 / z1 - 1);
    assert.ok(Math.abs(resistance - contactOhms) / contactOhms < 0.02, `${resistance} for ${contactOhms}`);
  }
});

test('no finger: no pressure, PENIRQ high; a finger pulls PENIRQ low unless PD0 disables it', () => {
  const touch = new Xpt2046();
  assert.equal(touch.penIrqLow, false);
  assert.equal(convert(touch, CHANNEL.Z1), 0);
  assert.equal(convert(touch, CHANNEL.Z2), 4095);
  touch.touch({ x: 10, y: 10 });
  assert.equal(touch.penIrqLow, true);
  touch.transfer(0x80 | (CHANNEL.X << 4) | 0b01);
  assert.equal(touch.penIrqLow, false);
});

test('a conversion from pen-detect reads low by the settling share; one with the drive kept on is exact', () => {
  const touch = new Xpt2046({ settling: 0.5 });
  touch.touch({ x: 320, y: 240 });
  const keepDriven = 0b01;
  // Power-up: pen-detect. The first conversion keeps the drive on, so the next ones settle.
  assert.equal(convert(touch, CHANNEL.X, keepDriven), Math.round(3850 * 0.5));
  assert.equal(convert(touch, CHANNEL.X, keepDriven), 3850);
  assert.equal(convert(touch, CHANNEL.Y, keepDriven), 340);
  // Re-arming the pen interrupt returns to pen-detect: the conversion after it reads low again.
  assert.equal(convert(touch, CHANNEL.Y), 340);
  assert.equal(touch.penIrqLow, true);
  assert.equal(convert(touch, CHANNEL.X), Math.round(3850 * 0.5));
});

test('noise stays within its bound and is the same for the same seed', () => {
  const reads = (/** @type {number} */ seed) => {
    const touch = new Xpt2046({ noise: 3, seed });
    touch.touch({ x: 160, y: 120 });
    return Array.from({ length: 50 }, () => convert(touch, CHANNEL.X));
  };
  const first = reads(5);
  assert.deepEqual(first, reads(5));
  assert.ok(first.every((v) => Math.abs(v - 2056) <= 3), first.join(' '));
  assert.ok(new Set(first).size > 1);
});

test('8-bit mode shifts out 8 bits after the busy clock; a dropped chip select loses the result', () => {
  const touch = new Xpt2046();
  touch.touch({ x: 320, y: 240 });
  touch.transfer(0x80 | (CHANNEL.X << 4) | 0x08);
  const high = touch.transfer(0);
  const low = touch.transfer(0);
  assert.equal((((high << 8) | low) >> 7) & 0xff, 3850 >> 4);
  touch.transfer(0x80 | (CHANNEL.X << 4));
  touch.deselect();
  assert.equal(touch.transfer(0), 0);
});
