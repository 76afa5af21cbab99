// @ts-check
/**
 * @file Where the inference's cycles go: a sampling profile. While sampling is on, the board
 * records the program counter once every `every` cycles ({@link Sampler}); {@link Profile} then
 * takes the samples inside a stretch of cycles (a digit's inference, which the digits run finds
 * from the firmware's clock reads) and counts them per function of the ELF's symbol table.
 * `firmware/emulate-board.sh --profile` writes the table to target/board-emulator/profile.txt, and
 * the samples per instruction address to profile-addresses.txt.
 */

/**
 * Program counter samples, taken while `on`, `every` cycles apart on average (for an even
 * `every`): each gap is drawn from `every / 2` to `3 * every / 2` (a fixed pseudo-random
 * sequence, so runs repeat), because a fixed gap locks onto loops whose length divides it and
 * piles a loop's samples onto a few of its instructions.
 */
export class Sampler {
  /** @param {number} every Mean cycles between samples. */
  constructor(every) {
    this.every = every;
    this.on = false;
    this.next = 0;
    this.state = 0x2545f491;
    /** Cycle counts and PCs, in pairs. @type {number[]} */
    this.samples = [];
  }

  /**
   * Called after each instruction: a sample when its turn has come.
   *
   * @param {number} cycles The core's cycle counter.
   * @param {number} pc The instruction's address.
   */
  tick(cycles, pc) {
    if (!this.on || cycles < this.next) return;
    this.samples.push(cycles, pc);
    // xorshift32
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    this.state >>>= 0;
    this.next = cycles + (this.every >> 1) + (this.state % (this.every + 1));
  }
}

/**
 * A Rust symbol as a reader writes it: the legacy mangling's path segments joined by `::`,
 * without the hash, its escapes decoded (`$LT$` is `<`, ...). Other names come back as they are.
 *
 * @param {string} name
 */
export function demangle(name) {
  const match = /^_?_ZN(.*)E$/.exec(name);
  if (!match) return name;
  const body = match[1];
  /** @type {string[]} */
  const segments = [];
  let at = 0;
  while (at < body.length) {
    const digits = /^\d+/.exec(body.slice(at));
    if (!digits) return name;
    const length = Number(digits[0]);
    at += digits[0].length;
    segments.push(body.slice(at, at + length));
    at += length;
  }
  if (segments.length > 1 && /^h[0-9a-f]{16}$/.test(segments[segments.length - 1])) segments.pop();
  /** @type {Record<string, string>} */
  const escapes = { SP: '@', BP: '*', RF: '&', LT: '<', GT: '>', LP: '(', RP: ')', C: ',' };
  return segments
    .map((segment) =>
      segment
        .replace(/^_\$/, '$')
        .replace(/\$u([0-9a-f]+)\$/g, (_, code) => String.fromCodePoint(parseInt(code, 16)))
        .replace(/\$([A-Z]+)\$/g, (whole, code) => escapes[code] ?? whole)
        .replaceAll('..', '::'),
    )
    .join('::');
}

/** Samples counted per function. */
export class Profile {
  /** @param {Map<string, import('./elf.js').ElfSymbol>} symbols */
  constructor(symbols) {
    /** Functions by address (Thumb's low bit cleared). */
    this.functions = [...symbols]
      .filter(([, symbol]) => symbol.size > 0)
      .map(([name, symbol]) => ({ name, start: symbol.address & ~1, end: (symbol.address & ~1) + symbol.size }))
      .sort((a, b) => a.start - b.start);
    /** Samples per function name. @type {Map<string, number>} */
    this.counts = new Map();
    /** Samples per instruction address. @type {Map<number, number>} */
    this.addresses = new Map();
    this.total = 0;
  }

  /**
   * Counts the samples taken in cycles `[from, to)`.
   *
   * @param {number[]} samples Cycle counts and PCs, in pairs (`Sampler.samples`).
   * @param {number} from
   * @param {number} to
   */
  add(samples, from, to) {
    for (let i = 0; i + 1 < samples.length; i += 2) {
      if (samples[i] < from || samples[i] >= to) continue;
      const [pc, name] = [samples[i + 1], this.functionAt(samples[i + 1])];
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
      this.addresses.set(pc, (this.addresses.get(pc) ?? 0) + 1);
      this.total++;
    }
  }

  /** @param {number} pc */
  functionAt(pc) {
    let [low, high] = [0, this.functions.length];
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.functions[mid].start <= pc) low = mid + 1;
      else high = mid;
    }
    const f = this.functions[low - 1];
    return f && pc < f.end ? demangle(f.name) : `(no symbol at 0x${pc.toString(16)})`;
  }

  /**
   * The table, most sampled first: each function's share of the samples and the cycles per
   * inference that share is of `cyclesPerInference`.
   *
   * @param {number} cyclesPerInference
   */
  lines(cyclesPerInference) {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => {
        const share = n / Math.max(1, this.total);
        const cycles = Math.round(share * cyclesPerInference).toLocaleString('en-US').padStart(11);
        return `${cycles} ${(100 * share).toFixed(1).padStart(5)}%  ${name}`;
      });
  }

  /**
   * The same per instruction, by address (to read beside a disassembly, `llvm-objdump -d`):
   * the address, the cycles per inference its samples stand for, its function.
   *
   * @param {number} cyclesPerInference
   */
  addressLines(cyclesPerInference) {
    return [...this.addresses]
      .sort((a, b) => a[0] - b[0])
      .map(([pc, n]) => {
        const cycles = Math.round((n / Math.max(1, this.total)) * cyclesPerInference);
        return `${pc.toString(16).padStart(8, '0')} ${cycles.toLocaleString('en-US').padStart(11)}  ${this.functionAt(pc)}`;
      });
  }
}
