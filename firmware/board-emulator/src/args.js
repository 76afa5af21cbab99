// @ts-check
/** @file The board test's command line. */

const USAGE = `usage: node emulate.js --elf ELF --panic-elf ELF --simulator SIMULATOR --out DIR [--uf2 UF2] [--defmt-print PATH]
  [--digits 0123456789] [--seed N] [--noise RAW_UNITS] [--spikes SHARE] [--settling SHARE] [--screenshot DIGIT] [--profile CYCLES]`;

/** @param {string[]} argv */
export function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const options = {
    '--uf2': '',
    '--defmt-print': 'defmt-print',
    '--digits': '0123456789',
    '--seed': '1',
    '--noise': '3',
    '--spikes': '0.02',
    // Not a measured panel's figure: large enough that a driver using an unsettled conversion
    // draws strokes visibly off target (see src/xpt2046.js).
    '--settling': '0.5',
    '--screenshot': '7',
    // Cycles between the profile's samples of the inference; 0: no profile.
    '--profile': '0',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (!(name in options) && !['--elf', '--panic-elf', '--simulator', '--out'].includes(name)) {
      throw new Error(`unknown argument ${JSON.stringify(name)}\n${USAGE}`);
    }
    if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    options[name] = value;
  }
  for (const required of ['--elf', '--panic-elf', '--simulator', '--out']) {
    if (!options[required]) throw new Error(`${required} is required\n${USAGE}`);
  }
  const digits = [...options['--digits']].map(Number);
  if (digits.length === 0 || digits.some((d) => !Number.isInteger(d) || d < 0 || d > 9)) {
    throw new Error(`--digits takes digits 0-9, not ${JSON.stringify(options['--digits'])}`);
  }
  const number = (/** @type {string} */ name) => {
    const value = Number(options[name]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} takes a number >= 0, not ${options[name]}`);
    return value;
  };
  return {
    elf: options['--elf'],
    panicElf: options['--panic-elf'],
    uf2: options['--uf2'],
    simulator: options['--simulator'],
    defmtPrint: options['--defmt-print'],
    out: options['--out'],
    digits,
    seed: number('--seed'),
    noise: number('--noise'),
    spikes: number('--spikes'),
    settling: number('--settling'),
    screenshot: number('--screenshot'),
    profile: number('--profile'),
  };
}

/** @typedef {ReturnType<typeof parseArgs>} Args */
