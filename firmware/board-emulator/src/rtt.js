// @ts-check
/**
 * @file Reads the firmware's defmt log from RAM the way a debug probe does: find the SEGGER
 * RTT control block (`_SEGGER_RTT`), switch its up channel to blocking mode (probe-rs does the
 * same, so no frame is dropped), and drain the ring buffer by moving its read offset.
 *
 * Control block: 16-byte ID, max up / down buffer counts (u32 each), then per up buffer: name,
 * buffer address, size, write offset, read offset, flags (u32 each).
 */

const UP_BUFFER = 24;
const FIELD = Object.freeze({ buffer: 4, size: 8, write: 12, read: 16, flags: 20 });
const MODE_MASK = 0b11;
const MODE_BLOCK_IF_FULL = 2;

/**
 * @typedef {object} Memory
 * @property {(address: number) => number} readUint32
 * @property {(address: number, value: number) => void} writeUint32
 * @property {(address: number) => number} readUint8
 */

export class RttReader {
  /**
   * @param {Memory} memory
   * @param {number} controlBlock Address of `_SEGGER_RTT`.
   */
  constructor(memory, controlBlock) {
    this.memory = memory;
    this.channel = controlBlock + UP_BUFFER;
    /** @type {number[]} */
    this.received = [];
    this.attached = false;
  }

  /** Attaches once the firmware has written the control block (its ID is in place). */
  attach() {
    const size = this.memory.readUint32(this.channel + FIELD.size);
    if (size === 0) return false;
    const flags = this.memory.readUint32(this.channel + FIELD.flags);
    this.memory.writeUint32(this.channel + FIELD.flags, (flags & ~MODE_MASK) | MODE_BLOCK_IF_FULL);
    this.attached = true;
    return true;
  }

  /** Moves what the firmware wrote since the last call into `received`. */
  drain() {
    if (!this.attached && !this.attach()) return;
    const { memory, channel } = this;
    const buffer = memory.readUint32(channel + FIELD.buffer);
    const size = memory.readUint32(channel + FIELD.size);
    const write = memory.readUint32(channel + FIELD.write);
    let read = memory.readUint32(channel + FIELD.read);
    if (write >= size || read >= size) return;
    while (read !== write) {
      this.received.push(memory.readUint8(buffer + read));
      read = (read + 1) % size;
    }
    memory.writeUint32(channel + FIELD.read, read);
  }
}
