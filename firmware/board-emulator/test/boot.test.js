// @ts-check
// Reading the firmware's ELF and starting it as the RP2040's boot ROM would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boot2Crc } from '../src/boot-rom.js';
import { readElf } from '../src/elf.js';

test('the boot2 checksum is CRC-32/MPEG-2', () => {
  // The catalogue check value of CRC-32/MPEG-2 for "123456789".
  assert.equal(boot2Crc(new TextEncoder().encode('123456789')), 0x0376e6e7);
});

test('files that are not ARM ELF executables are refused with the file name', () => {
  assert.throws(() => readElf(new Uint8Array(10), 'tiny.elf'), /tiny\.elf: 10 bytes is too short/);
  assert.throws(() => readElf(new Uint8Array(64), 'zeros.elf'), /zeros\.elf: not an ELF file/);
  const header = new Uint8Array(64);
  header.set([0x7f, 0x45, 0x4c, 0x46, 1, 1]);
  header[18] = 62; // x86-64
  assert.throws(() => readElf(header, 'host.elf'), /not an ARM ELF/);
});
