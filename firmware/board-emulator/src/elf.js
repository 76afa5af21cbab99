// @ts-check
/**
 * @file The parts of a 32-bit little-endian ARM ELF file that loading a firmware needs: the
 * loadable segments at their physical (load) addresses, and the symbol table.
 */

/**
 * @typedef {object} Segment
 * @property {number} address Physical (load) address: where a flasher writes it.
 * @property {Uint8Array} data The bytes stored in the file (`p_filesz`; the rest is zeroed RAM).
 *
 * @typedef {object} ElfSymbol
 * @property {number} address
 * @property {number} size
 *
 * @typedef {object} Elf
 * @property {Segment[]} segments
 * @property {Map<string, ElfSymbol>} symbols
 */

const PT_LOAD = 1;
const SHT_SYMTAB = 2;

/**
 * Parses `bytes` as an ELF32 ARM executable.
 *
 * @param {Uint8Array} bytes
 * @param {string} name The file's name, for error messages.
 * @returns {Elf}
 */
export function readElf(bytes, name) {
  const fail = (/** @type {string} */ why) => {
    throw new Error(`${name}: ${why}; pass the ELF that \`cargo build\` writes for the board`);
  };
  if (bytes.length < 52) fail(`${bytes.length} bytes is too short for an ELF header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== 0x7f454c46) fail('not an ELF file (no \\x7fELF magic)');
  if (bytes[4] !== 1 || bytes[5] !== 1) fail('not a 32-bit little-endian ELF');
  if (view.getUint16(18, true) !== 40) fail('not an ARM ELF (e_machine is not EM_ARM)');
  const u32 = (/** @type {number} */ at) => {
    if (at + 4 > bytes.length) fail(`truncated: a header field at ${at} lies past the end`);
    return view.getUint32(at, true);
  };
  const u16 = (/** @type {number} */ at) => {
    if (at + 2 > bytes.length) fail(`truncated: a header field at ${at} lies past the end`);
    return view.getUint16(at, true);
  };
  const slice = (/** @type {number} */ offset, /** @type {number} */ size, /** @type {string} */ what) => {
    if (offset + size > bytes.length) fail(`truncated: ${what} at ${offset}+${size} lies past the end`);
    return bytes.subarray(offset, offset + size);
  };

  const [phoff, shoff] = [u32(28), u32(32)];
  const [phentsize, phnum, shentsize, shnum] = [u16(42), u16(44), u16(46), u16(48)];

  /** @type {Segment[]} */
  const segments = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (u32(at) !== PT_LOAD) continue;
    const [offset, paddr, filesz] = [u32(at + 4), u32(at + 12), u32(at + 16)];
    if (filesz > 0) segments.push({ address: paddr, data: slice(offset, filesz, `segment ${i}`) });
  }

  /** @type {Map<string, ElfSymbol>} */
  const symbols = new Map();
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    if (u32(at + 4) !== SHT_SYMTAB) continue;
    const [offset, size, link, entsize] = [u32(at + 16), u32(at + 20), u32(at + 24), u32(at + 36)];
    const strtab = shoff + link * shentsize;
    const strings = slice(u32(strtab + 16), u32(strtab + 20), 'the symbol names');
    const table = slice(offset, size, 'the symbol table');
    const tableView = new DataView(table.buffer, table.byteOffset, table.byteLength);
    for (let s = 0; s + entsize <= table.length; s += entsize) {
      const nameAt = tableView.getUint32(s, true);
      let end = nameAt;
      while (end < strings.length && strings[end] !== 0) end++;
      const symbolName = new TextDecoder().decode(strings.subarray(nameAt, end));
      if (symbolName) {
        symbols.set(symbolName, {
          address: tableView.getUint32(s + 4, true),
          size: tableView.getUint32(s + 8, true),
        });
      }
    }
  }
  if (segments.length === 0) fail('no loadable segments');
  return { segments, symbols };
}
