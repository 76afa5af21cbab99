// @ts-check
// The board around the real firmware: it boots the release ELF, and a firmware that hangs,
// faults or calls the absent boot ROM stops the run with what was last seen. Needs the RP2040
// build of pico-restouch (firmware/emulate-board.sh builds it and sets BOARD_ELF).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Board } from '../src/board.js';

const elfPath = process.env.BOARD_ELF;

function board() {
  if (!elfPath) {
    throw new Error(
      'BOARD_ELF is not set: build the firmware (cargo build --release -p pico-restouch --no-default-features ' +
        '--features rp2040 --target thumbv6m-none-eabi in firmware/) and set BOARD_ELF to ' +
        'firmware/target/thumbv6m-none-eabi/release/pico-restouch, or run firmware/emulate-board.sh',
    );
  }
  return new Board(readFileSync(elfPath), elfPath);
}

/** Points the vector table's reset handler at `address` (Thumb), before boot2 reads it. */
function resetVector(/** @type {Board} */ b, /** @type {number} */ address) {
  new DataView(b.rp2040.flash.buffer).setUint32(0x104, address | 1, true);
}

test('a wait that runs out names the time, the PC and the last display command', () => {
  const b = board();
  assert.throws(
    () => b.runUntil({ done: () => false, deadlineNs: 200e6, what: 'a screen that never comes' }),
    /timed out waiting for a screen that never comes: emulated time 200\.\d+ ms; PC 0x10[0-9a-f]{6}.*; last display command (none|\w+ at [\d.]+ ms)/,
  );
});

test('a jump into the boot ROM stops the run and names the address', () => {
  const b = board();
  resetVector(b, 0x200);
  assert.throws(
    () => b.runUntil({ done: () => false, deadlineNs: 10e6, what: 'anything' }),
    /called the boot ROM at 0x00000200, which is not emulated/,
  );
});

test('a panic (UDF) and a sleep nothing can end stop the run with the reason', () => {
  const udf = board();
  udf.rp2040.sram.set([0x00, 0xde], 0x1000); // udf #0
  resetVector(udf, 0x20001000);
  assert.throws(() => udf.runUntil({ done: () => false, deadlineNs: 10e6, what: 'anything' }), /breakpoint\/UDF \(#0\) at 0x20001000/);

  const asleep = board();
  asleep.rp2040.sram.set([0x30, 0xbf, 0xfd, 0xe7], 0x1000); // wfi; b .-2
  resetVector(asleep, 0x20001000);
  assert.throws(() => asleep.runUntil({ done: () => false, deadlineNs: 10e6, what: 'anything' }), /sleeps \(WFE\/WFI\) with no timer/);
});

test('an image without a valid boot2 is refused as the ROM would refuse it', () => {
  const elf = new Uint8Array(readFileSync(/** @type {string} */ (elfPath ?? '')));
  // The boot2 block is the first flash segment; flip a byte of its code.
  const b = board();
  const boot2 = b.elf.segments.find((s) => s.address === 0x10000000);
  assert.ok(boot2, 'the ELF has a segment at the start of flash');
  const offset = boot2.data.byteOffset;
  elf[offset + 8] ^= 0xff;
  assert.throws(() => new Board(elf, 'broken.elf'), /broken\.elf: the first 256 bytes of flash are no valid boot2 .* USB boot/);
});
