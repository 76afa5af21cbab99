// @ts-check
// Reading the firmware's ELF and starting it as the RP2040's boot ROM would.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RP2040 } from 'rp2040js';
import { BootRom, FLASH_PAGE, FLASH_SECTOR, boot2Crc } from '../src/boot-rom.js';
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

/**
 * Calls a ROM address as `blx` would, from a caller at 0x20000100, with r0-r3 = `args`.
 *
 * @param {BootRom} rom
 * @param {number} address
 * @param {number[]} args
 */
function romCall(rom, address, args) {
  const { core } = rom.rp2040;
  args.forEach((value, r) => (core.registers[r] = value));
  core.LR = 0x20000101;
  const ns = rom.call(address & ~1);
  assert.equal(core.PC, 0x20000100, 'returns to the caller');
  return ns;
}

/**
 * The address of a ROM function, found the way the firmware finds it (the header's table and
 * lookup function).
 *
 * @param {BootRom} rom
 * @param {string} code
 */
function lookUp(rom, code) {
  const rp2040 = rom.rp2040;
  const half = (/** @type {number} */ at) => rp2040.readUint16(at);
  romCall(rom, half(0x18), [half(0x14), code.charCodeAt(0) | (code.charCodeAt(1) << 8)]);
  return rp2040.core.registers[0] >>> 0;
}

test('the flash routines erase sectors and program pages as NOR flash does', () => {
  const rom = new BootRom(new RP2040());
  const { flash } = rom.rp2040;
  const sector = 0x1ff000;
  flash.fill(0x00, sector, sector + FLASH_SECTOR);
  const erase = lookUp(rom, 'RE');
  assert.equal(erase & 1, 1, 'a Thumb address');
  assert.ok(romCall(rom, erase, [sector, FLASH_SECTOR, 1 << 31, 0]) > 0, 'an erase takes time');
  assert.ok(flash.subarray(sector, sector + FLASH_SECTOR).every((b) => b === 0xff));

  const data = 0x20001000;
  for (let i = 0; i < FLASH_PAGE; i++) rom.rp2040.writeUint8(data + i, i & 0xff);
  romCall(rom, lookUp(rom, 'RP'), [sector, data, FLASH_PAGE]);
  assert.deepEqual([...flash.subarray(sector, sector + 4)], [0, 1, 2, 3]);
  // Programming again without an erase only clears bits.
  for (let i = 0; i < FLASH_PAGE; i++) rom.rp2040.writeUint8(data + i, 0xf0);
  romCall(rom, lookUp(rom, 'RP'), [sector, data, FLASH_PAGE]);
  assert.deepEqual([...flash.subarray(sector, sector + 4)], [0, 0, 0, 0]);
  assert.equal(flash[sector + 0x1f], 0x10);
  assert.deepEqual(
    rom.writes.map((w) => w.op),
    ['erase', 'program', 'program'],
  );
});

test('misaligned flash writes and ROM parts that are not emulated are refused by name', () => {
  const rom = new BootRom(new RP2040());
  assert.throws(() => romCall(rom, lookUp(rom, 'RE'), [0x100, FLASH_SECTOR, 0, 0]), /flash_range_erase\(0x100, 4096\)/);
  assert.throws(() => romCall(rom, lookUp(rom, 'RP'), [0, 0x20000000, 100]), /flash_range_program\(0x0, 100\)/);
  assert.throws(() => lookUp(rom, 'UB'), /ROM function 'UB', which is not emulated/);
  assert.throws(() => romCall(rom, 0x2000, []), /boot ROM at 0x00002000/);
});
