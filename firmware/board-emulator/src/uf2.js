// @ts-check
/**
 * @file What the RP2040's boot ROM takes from a UF2 file dropped on its USB drive: the 256-byte
 * pages of the blocks it accepts, at their flash addresses (pico-bootrom-rp2040 `virtual_disk.c`
 * keeps a block only with the UF2 magic numbers, the family-ID flag and the RP2040's family, the
 * not-main-flash flag clear, a 256-byte payload at a 256-byte aligned flash address). The emulator
 * loads the board from the UF2 file itself this way, so the file a board owner copies is the one
 * tested; the ELF still gives the symbols (the RTT log), as a probe's tools read them.
 *
 * A file the ROM would take only in part (a block refused, a number or count that does not fit)
 * is an error here: firmware/uf2 writes every block to be accepted.
 */

import { FLASH_BASE, FLASH_PAGE as PAGE } from './boot-rom.js';

const BLOCK = 512;
const MAGIC_START_0 = 0x0a324655;
const MAGIC_START_1 = 0x9e5d5157;
const MAGIC_END = 0x0ab16f30;
const FLAG_NOT_MAIN_FLASH = 0x1;
const FLAG_FAMILY_ID_PRESENT = 0x2000;
export const RP2040_FAMILY = 0xe48bff56;
/** The Pico's flash chip (W25Q16JV): 2 MB. */
export const PICO_FLASH_BYTES = 2 * 1024 * 1024;

/**
 * The flash pages of a UF2 file for the RP2040, as segments (`address`, `data`).
 *
 * @param {Uint8Array} bytes
 * @param {string} name The file's name, for messages.
 * @param {number} flashSize Bytes of flash the pages must fit in.
 * @returns {import('./elf.js').Segment[]}
 */
export function readUf2(bytes, name, flashSize) {
  const fail = (/** @type {string} */ why) => {
    throw new Error(`${name}: ${why}; write it with firmware/build-uf2.sh`);
  };
  if (bytes.length === 0 || bytes.length % BLOCK !== 0) fail(`${bytes.length} bytes is not a whole number of 512-byte UF2 blocks`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.length / BLOCK;
  /** @type {import('./elf.js').Segment[]} */
  const pages = [];
  for (let index = 0; index < count; index++) {
    const at = index * BLOCK;
    const word = (/** @type {number} */ offset) => view.getUint32(at + offset, true);
    const refuse = (/** @type {string} */ why) => fail(`block ${index}: ${why}`);
    if (word(0) !== MAGIC_START_0 || word(4) !== MAGIC_START_1 || word(508) !== MAGIC_END) refuse('not a UF2 block (magic numbers)');
    const flags = word(8);
    if (flags & FLAG_NOT_MAIN_FLASH) refuse('marked not-main-flash: the boot ROM skips it');
    if (!(flags & FLAG_FAMILY_ID_PRESENT) || word(28) !== RP2040_FAMILY) {
      refuse(`family ${flags & FLAG_FAMILY_ID_PRESENT ? `0x${word(28).toString(16)}` : 'missing'}, not the RP2040's (0x${RP2040_FAMILY.toString(16)}): the boot ROM skips it`);
    }
    if (word(16) !== PAGE) refuse(`a ${word(16)}-byte payload; the boot ROM takes 256`);
    if (word(20) !== index || word(24) !== count) refuse(`numbered ${word(20)} of ${word(24)} at position ${index} of ${count}`);
    const address = word(12);
    const offset = address - FLASH_BASE;
    if (address % PAGE !== 0 || offset < 0 || offset + PAGE > flashSize) {
      refuse(`address 0x${address.toString(16)} is not a 256-byte page of the RP2040's flash`);
    }
    pages.push({ address, data: bytes.subarray(at + 32, at + 32 + PAGE) });
  }
  return pages;
}
