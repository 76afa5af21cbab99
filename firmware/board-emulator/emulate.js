#!/usr/bin/env node
// @ts-check
/**
 * @file The board test: boots the unmodified Pico firmware in the emulated board, loaded from
 * the UF2 file a user flashes (`--uf2`; the ELF gives the symbols) or from the ELF, checks its
 * first screen, then draws the ten synthetic digits on the
 * emulated touch panel in emulated real time, tapping CLEAR between them. Each answer is read
 * twice: off the emulated screen (by the simulator, which also compares the whole screen with
 * its own) and from the firmware's defmt log over RTT; the text log over USB serial must have
 * the same lines. Its first screen says the board runs the default touch calibration (its
 * flash holds none) until that notice times out. A second power-up holds a finger on the
 * panel to run the touch calibration: prompt, three crosses touched where the screen shows
 * them, the result screen (with the coefficients) tapped away, the fitted map checked against
 * the panel and the record the firmware wrote to its flash's last sector against the log, then
 * a digit drawn with it. A third power-up keeps that flash (a reset): the first screen says the
 * stored calibration runs, the log gives its coefficients, a digit drawn at once is recognised;
 * a fourth has one byte of the record flipped: the default runs and the first screen says the
 * stored one is unreadable. A fifth calibrates on a flash that takes no writes: the firmware
 * must say it did not keep the fit. Then the build that panics.
 *
 * Prints the figures the emulator measures, then `board: calibration kept after reset: <yes|no>,
 * corrupt record -> defaults: <yes|no>, panic shown on screen: <yes|no>` and, last, `board:
 * <n>/10 recognised, screen identical to simulator: <yes|no>, <cycles> cycles/inference (<ms> ms
 * at <MHz> MHz)`. Exits 0 only when every check passes.
 *
 * firmware/emulate-board.sh builds what it needs and runs it; by hand:
 *   node emulate.js --elf ELF --panic-elf ELF --simulator SIMULATOR --out DIR [--uf2 UF2] [--defmt-print PATH]
 *     [--digits 0123456789] [--seed N] [--noise RAW_UNITS] [--spikes SHARE] [--settling SHARE] [--screenshot DIGIT]
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from './src/args.js';
import { boards, faultsOf, ms, references, thousands } from './src/harness.js';
import { calibrationRun, corruptRecordRun, digitsRun, panicRun, storedCalibrationRun } from './src/runs.js';

/** What failed, in the order the checks found it. */
/** @type {string[]} */
const failures = [];

function main() {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const refs = references(args);
  const hostStart = performance.now();
  const digits = digitsRun(args, refs, failures);
  const calibrated = calibrationRun(args, refs, failures);
  const kept = calibrated ? storedCalibrationRun(args, refs, calibrated, failures) : false;
  const defaults = calibrated ? corruptRecordRun(args, refs, calibrated, failures) : false;
  // The same touches on a flash that takes no writes: the line under the result must differ.
  const worn = calibrationRun(args, refs, failures, true);
  if (calibrated && worn && worn.result.every((pixel, i) => pixel === calibrated.result[i])) {
    failures.push('calibration on a worn flash: the result screen is the one of a kept calibration');
  }
  const panicShown = panicRun(args, refs, failures);
  const hostSeconds = (performance.now() - hostStart) / 1e3;
  const instructions = boards.reduce((n, b) => n + b.instructions, 0);
  const emulatedNs = boards.reduce((n, b) => n + b.nowNs, 0);
  console.log(
    `board: emulator: ${thousands(instructions)} instructions, ${ms(emulatedNs)} emulated, ${hostSeconds.toFixed(1)} s on the host ` +
      `(${(instructions / hostSeconds / 1e6).toFixed(1)} M instructions/s)`,
  );
  const unmodelled = [...digits.board.unmodelled].map(([peripheral, n]) => `${peripheral} (${n})`).join(', ');
  if (unmodelled) console.log(`board: register accesses rp2040js does not model, ignored: ${unmodelled}`);
  for (const failure of failures) console.log(`board: FAIL: ${failure}`);
  const yesNo = (/** @type {boolean} */ b) => (b ? 'yes' : 'no');
  console.log(
    `board: calibration kept after reset: ${yesNo(kept)}, corrupt record -> defaults: ${yesNo(defaults)}, ` +
      `panic shown on screen: ${yesNo(panicShown)}`,
  );
  console.log(
    `board: ${digits.recognised}/${digits.drawn} recognised, screen identical to simulator: ${digits.identical ? 'yes' : 'no'}, ` +
      `${Math.round(digits.meanCycles)} cycles/inference (${(digits.meanCycles / digits.clkMhz / 1e3).toFixed(1)} ms at ${digits.clkMhz.toFixed(0)} MHz)`,
  );
  return failures.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  // A run that stopped early: what the part models objected to until then often says why.
  const found = new Set([...failures, ...boards.flatMap((board) => faultsOf(board, ''))]);
  for (const failure of found) console.log(`board: FAIL: ${failure}`);
  console.log(`board: FAIL: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
}
