// @ts-check
/**
 * @file What the RP2040's boot ROM does for a flash image, done by the emulator because
 * rp2040js ships no ROM (and a copy of Raspberry Pi's would not belong in this repository):
 * copy the first 256 bytes of flash (the second-stage boot loader, boot2) to the top of SRAM,
 * check their CRC32 as the ROM does, and enter boot2 with LR = 0, which boot2 reads as "called
 * by the ROM": it sets up the flash interface for execute-in-place, then points VTOR at the
 * vector table after it (0x10000100) and jumps to the reset handler.
 *
 * Of the ROM's function table, the flash routines a firmware calls to keep data in flash
 * (`BootRom`): `rom_table_lookup` and each function it hands out are addresses in the ROM's range
 * that the board loop hands to `BootRom.call`, which does what the ROM function does to the
 * emulated flash and returns to the caller. The rest (float routines, `reset_to_usb_boot`, the
 * data table) is not provided: a call to it stops the board with a message that names it.
 */

import { BasePeripheral } from 'rp2040js';

export const FLASH_BASE = 0x10000000;
/** Where the ROM copies boot2 to; the stack grows down from just below it. */
export const BOOT2_SRAM = 0x20041f00;
const BOOT2_SIZE = 256;
/** The ROM occupies the first 16 KB of the address space. */
export const ROM_END = 0x4000;

/**
 * The ROM's boot2 checksum: CRC-32 with polynomial 0x04c11db7, initial value 0xffffffff, bits
 * not reflected, no final XOR, over the first 252 bytes; stored little-endian in the last 4.
 *
 * @param {Uint8Array} bytes
 */
export function boot2Crc(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/**
 * Writes the image's flash segments into the emulated flash, then starts the core in boot2.
 *
 * @param {import('rp2040js').RP2040} rp2040
 * @param {import('./elf.js').Segment[]} segments The ELF's loadable segments, or its UF2 file's pages.
 * @param {string} name The image's file name, for messages.
 */
export function bootFromFlash(rp2040, segments, name) {
  for (const { address, data } of segments) {
    const offset = address - FLASH_BASE;
    if (offset < 0 || offset + data.length > rp2040.flash.length) {
      throw new Error(
        `${name}: a segment loads at 0x${address.toString(16)}, outside the RP2040's flash ` +
          '(is it the RP2350 build? build pico-restouch with --no-default-features --features rp2040 --target thumbv6m-none-eabi)',
      );
    }
    rp2040.flash.set(data, offset);
  }
  const boot2 = rp2040.flash.subarray(0, BOOT2_SIZE);
  const stored = new DataView(boot2.buffer, boot2.byteOffset + BOOT2_SIZE - 4, 4).getUint32(0, true);
  const computed = boot2Crc(boot2.subarray(0, BOOT2_SIZE - 4));
  if (stored !== computed) {
    throw new Error(
      `${name}: the first 256 bytes of flash are no valid boot2 (CRC32 0x${computed.toString(16)}, ` +
        `stored 0x${stored.toString(16)}): the boot ROM would not start this image but wait in USB boot mode`,
    );
  }
  rp2040.sram.set(boot2, BOOT2_SRAM - 0x20000000);
  const { core } = rp2040;
  core.SP = BOOT2_SRAM;
  core.LR = 0;
  core.PC = BOOT2_SRAM;
}

/**
 * The XIP cache's control registers (RP2040 datasheet, XIP_CTRL at 0x14000000), which
 * rp2040js does not model: a firmware that writes flash waits on STREAM_CTR for background reads
 * to end first. The emulated flash has no cache and no streaming: it reads as idle (STAT: FIFO
 * empty, flush ready; counters zero) and takes every write.
 */
export class XipControl extends BasePeripheral {
  /** @param {number} offset */
  readUint32(offset) {
    const STAT = 0x08;
    const STAT_FIFO_EMPTY_FLUSH_READY = 0b101;
    return offset === STAT ? STAT_FIFO_EMPTY_FLUSH_READY : 0;
  }

  writeUint32() {}
}
/** Where rp2040js looks XIP_CTRL up: `(address >>> 14) << 2`. */
const XIP_CTRL_KEY = (0x14000000 >>> 14) << 2;

/** The flash chip's erase unit (4 KB sector) and program unit (256-byte page). */
export const FLASH_SECTOR = 4096;
export const FLASH_PAGE = 256;
/**
 * What an erase and a page program take on the Pico's W25Q16JV (Winbond's datasheet, rev. F,
 * section 9.6: tSE 45 ms and tPP 0.4 ms typical): the emulated clock moves on by as much.
 */
const SECTOR_ERASE_NS = 45e6;
const PAGE_PROGRAM_NS = 0.4e6;

/** Where the ROM header points (RP2040 datasheet, "Bootrom Contents": 0x14 function table, 0x16 data table, 0x18 lookup). */
const FUNCTION_TABLE = 0x100;
const DATA_TABLE = 0x200;
const LOOKUP = 0x300;
/** The emulated functions' entry points, one halfword apart from here. */
const FUNCTIONS_AT = 0x400;

/**
 * A ROM function's two-letter code, as `rom_table_lookup` gets it.
 *
 * @param {string} code
 */
function tag(code) {
  return code.charCodeAt(0) | (code.charCodeAt(1) << 8);
}

/**
 * The RP2040 boot ROM's flash routines (RP2040 datasheet, "Flash Access" among the bootrom functions), done to the emulated flash.
 */
export class BootRom {
  /**
   * @param {import('rp2040js').RP2040} rp2040
   * @param {{ worn?: boolean }} [options] `worn`: the flash takes erases but no longer programs
   *   (a worn-out or write-protected chip), so that a firmware's handling of a failed write can
   *   be seen.
   */
  constructor(rp2040, options = {}) {
    this.rp2040 = rp2040;
    this.worn = options.worn ?? false;
    /** Every erase and program, in order: for the checks. */
    /** @type {{ op: 'erase' | 'program', offset: number, bytes: number }[]} */
    this.writes = [];
    // The flash interface's state changes: the emulated flash reads the same in every state.
    const interfaceStep = () => 0;
    /**
     * Each function: its code, its name, and what it does (returning the emulated nanoseconds
     * it takes beyond its instructions).
     *
     * @type {[string, string, (args: number[]) => number][]}
     */
    const functions = [
      ['IF', 'connect_internal_flash', interfaceStep],
      ['EX', 'flash_exit_xip', interfaceStep],
      ['FC', 'flash_flush_cache', interfaceStep],
      ['CX', 'flash_enter_cmd_xip', interfaceStep],
      ['RE', 'flash_range_erase', ([offset, count]) => this.erase(offset, count)],
      ['RP', 'flash_range_program', ([offset, data, count]) => this.program(offset, data, count)],
      ['C4', 'memcpy44', ([dest, src, n]) => this.copy(dest, src, n)],
      ['MC', 'memcpy', ([dest, src, n]) => this.copy(dest, src, n)],
    ];
    /** @type {Map<number, (args: number[]) => number>} entry address -> what the function does */
    this.entries = new Map();
    /** @type {Map<number, number>} code -> entry address */
    this.byTag = new Map();
    functions.forEach(([code, , run], i) => {
      const entry = FUNCTIONS_AT + 2 * i;
      this.entries.set(entry, run);
      this.byTag.set(tag(code), entry);
    });
    // The header halfwords the firmware reads to find the tables and the lookup function
    // (a Thumb address: bit 0 set).
    const rom = new Uint8Array(ROM_END);
    const header = new DataView(rom.buffer);
    header.setUint16(0x14, FUNCTION_TABLE, true);
    header.setUint16(0x16, DATA_TABLE, true);
    header.setUint16(0x18, LOOKUP | 1, true);
    rom[0x13] = 3; // the RP2040 B2's ROM version
    rp2040.loadBootrom(new Uint32Array(rom.buffer));
    rp2040.peripherals[XIP_CTRL_KEY] = new XipControl(rp2040, 'XIP_CTRL');
  }

  /**
   * The core is at `pc`, in the ROM: does what the ROM code there would and returns to the
   * caller (r0 the result, if any). An error names a ROM address this emulation does not provide.
   *
   * @param {number} pc
   * @returns {number} Emulated nanoseconds the call took, beyond its instructions.
   */
  call(pc) {
    const { core } = this.rp2040;
    const args = [0, 1, 2, 3].map((r) => core.registers[r] >>> 0);
    let ns = 0;
    if (pc === LOOKUP) {
      const [table, code] = args;
      const entry = table === FUNCTION_TABLE ? this.byTag.get(code) : undefined;
      if (entry === undefined) {
        const name = String.fromCharCode(code & 0xff, code >> 8);
        throw new Error(
          `the firmware looked up ROM ${table === DATA_TABLE ? 'data' : 'function'} '${name}', which is not emulated`,
        );
      }
      core.registers[0] = entry | 1;
    } else {
      const run = this.entries.get(pc);
      if (!run) throw new Error(`the firmware called the boot ROM at 0x${pc.toString(16).padStart(8, '0')}, which is not emulated`);
      ns = run(args);
    }
    core.PC = core.LR & ~1;
    return ns;
  }

  /**
   * @param {number} offset
   * @param {number} count
   */
  erase(offset, count) {
    this.checkRange('flash_range_erase', offset, count, FLASH_SECTOR);
    this.rp2040.flash.fill(0xff, offset, offset + count);
    this.writes.push({ op: 'erase', offset, bytes: count });
    return (count / FLASH_SECTOR) * SECTOR_ERASE_NS;
  }

  /**
   * NOR flash: programming only clears bits, so a page not erased first keeps the AND of both.
   *
   * @param {number} offset
   * @param {number} data
   * @param {number} count
   */
  program(offset, data, count) {
    this.checkRange('flash_range_program', offset, count, FLASH_PAGE);
    const { flash } = this.rp2040;
    if (!this.worn) for (let i = 0; i < count; i++) flash[offset + i] &= this.rp2040.readUint8(data + i);
    this.writes.push({ op: 'program', offset, bytes: count });
    return (count / FLASH_PAGE) * PAGE_PROGRAM_NS;
  }

  /**
   * @param {number} dest
   * @param {number} src
   * @param {number} n
   */
  copy(dest, src, n) {
    for (let i = 0; i < n; i++) this.rp2040.writeUint8(dest + i, this.rp2040.readUint8(src + i));
    // Both return the destination.
    this.rp2040.core.registers[0] = dest;
    return 0;
  }

  /**
   * The ROM does not check its arguments; a real chip given these would erase or program
   * something else, so the emulation refuses them.
   *
   * @param {string} name
   * @param {number} offset Bytes from the start of flash.
   * @param {number} count
   * @param {number} unit
   */
  checkRange(name, offset, count, unit) {
    if (offset % unit !== 0 || count % unit !== 0 || count === 0 || offset + count > this.rp2040.flash.length) {
      throw new Error(
        `${name}(0x${offset.toString(16)}, ${count}): not whole ${unit}-byte units inside the ` +
          `${this.rp2040.flash.length}-byte flash`,
      );
    }
  }
}
