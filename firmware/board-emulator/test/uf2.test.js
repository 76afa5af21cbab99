// @ts-check
// Loading the firmware from its UF2 file as the RP2040's boot ROM takes it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { FLASH_BASE } from '../src/boot-rom.js';
import { readElf } from '../src/elf.js';
import { PICO_FLASH_BYTES, RP2040_FAMILY, readUf2 } from '../src/uf2.js';

/**
 * A UF2 file of `count` blocks for consecutive pages from 0x10000000, page `i` filled with `i`.
 *
 * @param {number} count
 */
function uf2File(count) {
  const bytes = new Uint8Array(512 * count);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) {
    const words = [0x0a324655, 0x9e5d5157, 0x2000, 0x10000000 + 256 * i, 256, i, count, RP2040_FAMILY];
    words.forEach((word, k) => view.setUint32(512 * i + 4 * k, word, true));
    view.setUint32(512 * i + 508, 0x0ab16f30, true);
    bytes.fill(i, 512 * i + 32, 512 * i + 32 + 256);
  }
  return bytes;
}

test('the pages of a UF2 file are read at their addresses', () => {
  const pages = readUf2(uf2File(3), 'three.uf2', PICO_FLASH_BYTES);
  assert.deepEqual(pages.map((page) => page.address), [0x10000000, 0x10000100, 0x10000200]);
  assert.deepEqual([...pages[2].data.subarray(0, 4)], [2, 2, 2, 2]);
  assert.equal(pages[2].data.length, 256);
});

test('blocks the boot ROM would skip or misplace are refused with the block named', () => {
  /** @type {[string, number, number, RegExp][]} */
  const cases = [
    ['magic', 0, 0, /block 1: not a UF2 block/],
    ['flags', 8, 0x2001, /block 1: marked not-main-flash/],
    ['family', 28, 0xe48bff59, /block 1: family 0xe48bff59, not the RP2040's/],
    ['payload', 16, 476, /block 1: a 476-byte payload/],
    ['number', 20, 0, /block 1: numbered 0 of 3 at position 1/],
    ['address', 12, 0x10000080, /block 1: address 0x10000080 is not a 256-byte page/],
    ['outside', 12, 0x10200000, /block 1: address 0x10200000/],
  ];
  for (const [what, offset, value, message] of cases) {
    const bytes = uf2File(3);
    new DataView(bytes.buffer).setUint32(512 + offset, value, true);
    assert.throws(() => readUf2(bytes, 'bad.uf2', PICO_FLASH_BYTES), message, what);
  }
  assert.throws(() => readUf2(uf2File(1).subarray(0, 500), 'short.uf2', PICO_FLASH_BYTES), /short\.uf2: 500 bytes/);
});

// firmware/emulate-board.sh passes the board build and its UF2 file.
test('the board UF2 file holds the ELF image byte for byte', () => {
  const [elfPath, uf2Path] = [process.env.BOARD_ELF, process.env.BOARD_UF2];
  if (!elfPath || !uf2Path) {
    throw new Error('BOARD_ELF and BOARD_UF2 are not set: run firmware/emulate-board.sh (it builds both and sets them)');
  }
  const elf = readElf(readFileSync(elfPath), elfPath);
  const flash = new Uint8Array(PICO_FLASH_BYTES);
  for (const page of readUf2(readFileSync(uf2Path), uf2Path, PICO_FLASH_BYTES)) {
    flash.set(page.data, page.address - FLASH_BASE);
  }
  for (const { address, data } of elf.segments) {
    if (address < FLASH_BASE || address >= FLASH_BASE + PICO_FLASH_BYTES) continue; // RAM: not flashed
    const offset = address - FLASH_BASE;
    const flashed = Buffer.from(flash.subarray(offset, offset + data.length));
    assert.ok(flashed.equals(Buffer.from(data)), `the segment at 0x${address.toString(16)} differs in the UF2 file`);
  }
});
