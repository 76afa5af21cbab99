// @ts-check
// The ST7789 model: known command sequences give known frames; what a real controller would
// take differently from what the driver meant is a fault.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MADCTL, St7789, VIEW } from '../src/st7789.js';

const MS = 1e6;
const RED = 0xf800;
const GREEN = 0x07e0;
const BLUE = 0x001f;

/** A controller after a hardware reset and the start-up mipidsi sends, at `madctl`. */
function started(madctl = MADCTL.MX | MADCTL.MV) {
  const lcd = new St7789({ seed: 7 });
  lcd.setResetLine(true, 0);
  lcd.setResetLine(false, 0.02 * MS);
  let now = 150 * MS;
  const command = (/** @type {number} */ code, /** @type {number[]} */ params = []) => {
    lcd.transfer(code, false, now);
    for (const p of params) lcd.transfer(p, true, now);
    now += 10 * MS;
  };
  command(0x11); // SLPOUT
  command(0x36, [madctl]);
  command(0x21); // INVON
  command(0x3a, [0x55]);
  command(0x29); // DISPON
  return { lcd, command };
}

/** @param {number} value */
const be = (value) => [value >> 8, value & 0xff];

test('pixels land in the address window, landscape under MV|MX', () => {
  const { lcd, command } = started();
  command(0x2a, [...be(10), ...be(12)]);
  command(0x2b, [...be(20), ...be(21)]);
  command(0x2c, [RED, GREEN, BLUE, BLUE, GREEN, RED].flatMap(be));
  const view = lcd.view();
  const at = (/** @type {number} */ x, /** @type {number} */ y) => view[y * VIEW.width + x];
  assert.deepEqual([at(10, 20), at(11, 20), at(12, 20)], [RED, GREEN, BLUE]);
  assert.deepEqual([at(10, 21), at(11, 21), at(12, 21)], [BLUE, GREEN, RED]);
  assert.equal(lcd.pixelsWritten, 6);
  assert.deepEqual(lcd.faults, []);
});

test('portrait addressing (MADCTL 0) shows turned a quarter on the landscape board', () => {
  const { lcd, command } = started(0);
  command(0x2a, [...be(0), ...be(0)]);
  command(0x2b, [...be(0), ...be(0)]);
  command(0x2c, be(GREEN));
  // Memory column 0, row 0 is the landscape view's bottom-left corner.
  assert.equal(lcd.view()[(VIEW.height - 1) * VIEW.width], GREEN);
});

test('the BGR bit swaps red and blue, INVOFF inverts, DISPOFF and sleep show black', () => {
  const { lcd, command } = started(MADCTL.MX | MADCTL.MV | MADCTL.BGR);
  command(0x2a, [...be(0), ...be(0)]);
  command(0x2b, [...be(0), ...be(0)]);
  command(0x2c, be(RED));
  assert.equal(lcd.view()[0], BLUE);
  command(0x20); // INVOFF
  assert.equal(lcd.view()[0], BLUE ^ 0xffff);
  command(0x28); // DISPOFF
  assert.ok(lcd.view().every((p) => p === 0));
  command(0x29);
  command(0x10); // SLPIN
  assert.ok(lcd.view().every((p) => p === 0));
});

test('a full screen of pixels completes the frame', () => {
  const { lcd, command } = started();
  command(0x2a, [...be(0), ...be(319)]);
  command(0x2b, [...be(0), ...be(239)]);
  assert.equal(lcd.fullFrameWritten, false);
  command(0x2c, new Array(VIEW.width * VIEW.height).fill(be(GREEN)).flat());
  assert.equal(lcd.fullFrameWritten, true);
  assert.ok(lcd.view().every((p) => p === GREEN));
  assert.deepEqual(lcd.faults, []);
});

test('unknown commands, early commands, bad windows and overflowing writes are faults', () => {
  const { lcd, command } = started();
  command(0xb2, [0x0c]); // PORCTRL: not modelled
  command(0x2a, [...be(0), ...be(320)]); // past the 320 columns of landscape addressing
  command(0x2a, [...be(0), ...be(0)]);
  command(0x2b, [...be(0), ...be(0)]);
  command(0x2c, [...be(RED), ...be(RED)]); // two pixels into a one-pixel window
  const messages = lcd.faults.map((f) => f.message);
  assert.ok(messages.some((m) => m.includes('unknown command 0xb2')), messages.join('\n'));
  assert.ok(messages.some((m) => m.includes('CASET 0..320 outside 0..319')), messages.join('\n'));
  assert.ok(messages.some((m) => m.includes('past the end of the address window')), messages.join('\n'));

  const early = new St7789();
  early.setResetLine(true, 0);
  early.setResetLine(false, 0.001 * MS); // a 1 us pulse
  early.transfer(0x11, false, 2 * MS); // SLPOUT 2 ms after reset
  const earlyMessages = early.faults.map((f) => f.message);
  assert.ok(earlyMessages.some((m) => m.includes('reset pulse')), earlyMessages.join('\n'));
  assert.ok(earlyMessages.some((m) => m.includes('needs 5 ms')), earlyMessages.join('\n'));
  assert.ok(earlyMessages.some((m) => m.includes('needs 120 ms')), earlyMessages.join('\n'));
});

test('RDDID answers after its dummy byte', () => {
  const { lcd } = started();
  lcd.transfer(0x04, false, 500 * MS);
  const reply = [0, 0, 0, 0].map(() => lcd.transfer(0, true, 500 * MS));
  assert.deepEqual(reply, [0, 0x85, 0x85, 0x52]);
});
