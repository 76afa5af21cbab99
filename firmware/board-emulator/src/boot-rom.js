// @ts-check
/**
 * @file What the RP2040's boot ROM does for a flash image, done by the emulator because
 * rp2040js ships no ROM (and a copy of Raspberry Pi's would not belong in this repository):
 * copy the first 256 bytes of flash (the second-stage boot loader, boot2) to the top of SRAM,
 * check their CRC32 as the ROM does, and enter boot2 with LR = 0, which boot2 reads as "called
 * by the ROM": it sets up the flash interface for execute-in-place, then points VTOR at the
 * vector table after it (0x10000100) and jumps to the reset handler.
 *
 * The ROM's function and data tables (float routines, flash programming, `reset_to_usb_boot`)
 * are not provided: the board loop reports a jump into the ROM's address range as a fault that
 * names the address, so a firmware that starts needing one says so.
 */

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
