#!/usr/bin/env node
// @ts-check
/**
 * @file The board test: boots the unmodified Pico firmware (the RP2040 ELF a user flashes) in
 * the emulated board, checks its first screen, then draws the ten synthetic digits on the
 * emulated touch panel in emulated real time, tapping CLEAR between them. Each answer is read
 * twice: off the emulated screen (by the simulator, which also compares the whole screen with
 * its own) and from the firmware's defmt log over RTT. Prints the figures the emulator measures
 * and, last, `board: <n>/10 recognised, screen identical to simulator: <yes|no>, <cycles>
 * cycles/inference (<ms> ms at <MHz> MHz)`. Exits 0 only when every check passes.
 *
 * firmware/emulate-board.sh builds what it needs and runs it; by hand:
 *   node emulate.js --elf ELF --simulator SIMULATOR --out DIR [--defmt-print PATH]
 *     [--digits 0123456789] [--seed N] [--noise RAW_UNITS] [--spikes SHARE] [--screenshot DIGIT]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Board } from './src/board.js';
import { POLL_NS, parsePolls, play, pollingSteadily } from './src/finger.js';
import { encodePng } from './src/png.js';
import { VIEW } from './src/st7789.js';

/** Power-on to the first complete screen, at most: a second is what a user will wait. */
const BOOT_BOUND_NS = 1000e6;
/** The display is done drawing when it has had no byte for this long. */
const DISPLAY_QUIET_NS = 30e6;
/** The longest a step may take in emulated time before the firmware counts as hung. */
const STEP_DEADLINE_NS = 5e9;

const USAGE = `usage: node emulate.js --elf ELF --simulator SIMULATOR --out DIR [--defmt-print PATH]
  [--digits 0123456789] [--seed N] [--noise RAW_UNITS] [--spikes SHARE] [--screenshot DIGIT]`;

/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const options = {
    '--defmt-print': 'defmt-print',
    '--digits': '0123456789',
    '--seed': '1',
    '--noise': '3',
    '--spikes': '0.02',
    '--screenshot': '7',
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [name, value] = [argv[i], argv[i + 1]];
    if (!(name in options) && !['--elf', '--simulator', '--out'].includes(name)) {
      throw new Error(`unknown argument ${JSON.stringify(name)}\n${USAGE}`);
    }
    if (value === undefined) throw new Error(`${name} needs a value\n${USAGE}`);
    options[name] = value;
  }
  for (const required of ['--elf', '--simulator', '--out']) {
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
    simulator: options['--simulator'],
    defmtPrint: options['--defmt-print'],
    out: options['--out'],
    digits,
    seed: number('--seed'),
    noise: number('--noise'),
    spikes: number('--spikes'),
    screenshot: number('--screenshot'),
  };
}

/** @param {number} ns */
const ms = (ns) => `${(ns / 1e6).toFixed(1)} ms`;
/** @param {number} n */
const thousands = (n) => Math.round(n).toLocaleString('en-US');

function main() {
  const args = parseArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const simulator = (/** @type {string[]} */ simulatorArgs) =>
    spawnSync(args.simulator, simulatorArgs, { encoding: 'utf8' });
  const polls = (/** @type {string} */ script) => {
    const run = simulator(['--polls', script]);
    if (run.status !== 0) throw new Error(`${args.simulator} --polls ${script} failed: ${run.stderr}`);
    return parsePolls(run.stdout);
  };
  /** Writes the emulated screen and has the simulator compare it with its own. */
  const compareScreen = (/** @type {string} */ name, /** @type {string[]} */ drawing) => {
    const boardPng = join(args.out, `board-${name}.png`);
    writeFileSync(boardPng, encodePng(VIEW.width, VIEW.height, board.lcd.view()));
    const run = simulator(['--png', join(args.out, `simulator-${name}.png`), ...drawing, '--compare', boardPng]);
    const line = run.stdout.match(/^compare: answer (\w+), (\d+) pixels differ.*$/m);
    if (!line) throw new Error(`the simulator did not compare ${boardPng}: ${run.stdout}${run.stderr}`);
    return { answer: line[1] === 'none' ? null : Number(line[1]), differing: Number(line[2]), text: line[0] };
  };

  const board = new Board(readFileSync(args.elf), args.elf, {
    seed: args.seed,
    touchNoise: args.noise,
    touchSpikes: args.spikes,
  });
  const hostStart = performance.now();
  /** @type {string[]} */
  const failures = [];
  const lcdBytes = () => board.bus.bytes.get('ST7789') ?? 0;
  const touchBytes = () => board.bus.bytes.get('XPT2046') ?? 0;

  // Boot: the first screen is complete when every pixel was written and the display has
  // gone quiet; the firmware then polls the panel on its 10 ms grid.
  const displayQuiet = () => board.nowNs - (board.bus.lastByteNs.get('ST7789') ?? Infinity) >= DISPLAY_QUIET_NS;
  board.runUntil({
    done: () => board.lcd.fullFrameWritten && board.lcd.registers.displayOn && displayQuiet(),
    deadlineNs: STEP_DEADLINE_NS,
    what: 'the first complete screen',
  });
  const firstScreenNs = board.bus.lastByteNs.get('ST7789') ?? 0;
  board.runUntil({ done: () => pollingSteadily(board.penReads, 0), deadlineNs: board.nowNs + STEP_DEADLINE_NS, what: 'the firmware to poll the touch panel' });
  const backlightOnNs = board.backlightChanges.find(([, on]) => on)?.[0] ?? null;
  console.log(
    `board: boot: first screen complete at ${ms(firstScreenNs)} of emulated time (bound ${ms(BOOT_BOUND_NS)}), ` +
      `backlight on at ${backlightOnNs === null ? 'never' : ms(backlightOnNs)}`,
  );
  if (firstScreenNs > BOOT_BOUND_NS) failures.push(`the first screen took ${ms(firstScreenNs)} (bound ${ms(BOOT_BOUND_NS)})`);
  if (backlightOnNs === null) failures.push('the backlight never came on');
  else if (backlightOnNs < firstScreenNs) {
    failures.push(`the backlight came on at ${ms(backlightOnNs)}, before the first screen was complete (${ms(firstScreenNs)}): the user sees the panel's power-on noise`);
  }
  const bootScreen = compareScreen('boot', ['--blank']);
  console.log(`board: boot screen vs the simulator's blank screen: ${bootScreen.text}`);
  if (bootScreen.differing > 0) failures.push('the first screen differs from the simulator\'s');
  const bootView = board.lcd.view();

  /** @type {{ digit: number, answer: number | null, identical: boolean, cycles: number, us: number | null }[]} */
  const results = [];
  const traffic = { touchBytes: 0, touchPolls: 0, drawBytes: 0, drawPolls: 0, recognitionBytes: 0 };
  // Finger samples the firmware polled other than once: a stroke point missed or read twice.
  let offGrid = 0;
  for (const [index, digit] of args.digits.entries()) {
    if (index > 0) {
      const lcdBeforeTap = lcdBytes();
      const tap = play(board, polls('clear'), 'a tap on CLEAR');
      board.runUntil({
        done: () => lcdBytes() > lcdBeforeTap && displayQuiet() && pollingSteadily(board.penReads, tap.endNs),
        deadlineNs: tap.endNs + STEP_DEADLINE_NS,
        what: 'the screen after CLEAR',
      });
      const cleared = board.lcd.view();
      const differing = cleared.reduce((n, pixel, i) => n + (pixel !== bootView[i] ? 1 : 0), 0);
      if (differing > 0) {
        writeFileSync(join(args.out, `board-clear-${digit}.png`), encodePng(VIEW.width, VIEW.height, cleared));
        failures.push(`after CLEAR (before digit ${digit}) ${differing} pixels differ from the first screen`);
      }
    }
    const script = polls(String(digit));
    const lastTouch = script.findLastIndex((poll) => poll !== null);
    const [touchBefore, lcdBefore] = [touchBytes(), lcdBytes()];
    // Traffic and clock reads up to the lift belong to drawing, after it to recognising.
    const atLift = { ns: 0, lcd: 0, touch: 0 };
    const timerReadsBefore = board.timerReads.length;
    const liftHook = () => Object.assign(atLift, { ns: board.nowNs, lcd: lcdBytes(), touch: touchBytes() });
    const played = play(board, script, `digit ${digit}`, new Map([[lastTouch + 1, liftHook]]));
    offGrid += played.offGrid;
    // Done when the results panel has been drawn (the only display traffic after the lift)
    // and the firmware is back on its poll grid.
    board.runUntil({
      done: () => lcdBytes() > atLift.lcd && displayQuiet() && pollingSteadily(board.penReads, played.endNs),
      deadlineNs: played.endNs + STEP_DEADLINE_NS,
      what: `the answer to digit ${digit}`,
    });
    const touchPolls = script.slice(0, lastTouch + 1).filter((p) => p !== null).length;
    traffic.touchBytes += atLift.touch - touchBefore;
    traffic.touchPolls += touchPolls;
    traffic.drawBytes += atLift.lcd - lcdBefore;
    traffic.drawPolls += touchPolls;
    traffic.recognitionBytes += lcdBytes() - atLift.lcd;
    // The inference is the longest stretch between two of the firmware's clock reads in
    // thread mode after the lift: Session::recognise reads the clock just before and after it.
    const reads = board.timerReads.slice(timerReadsBefore).filter((r) => r.ns >= atLift.ns);
    let cycles = 0;
    for (let i = 1; i < reads.length; i++) cycles = Math.max(cycles, reads[i].cycles - reads[i - 1].cycles);
    const screen = compareScreen(String(digit), ['--digit', String(digit)]);
    results.push({ digit, answer: screen.answer, identical: screen.differing === 0, cycles, us: null });
    console.log(`board: digit ${digit}: ${screen.text}; ${thousands(cycles)} cycles in the inference`);
  }

  // The log, decoded against the ELF as a probe's host tools do.
  const rttPath = join(args.out, 'defmt.bin');
  writeFileSync(rttPath, Uint8Array.from(board.rtt.received));
  const decoded = spawnSync(args.defmtPrint, ['-e', args.elf], { input: readFileSync(rttPath), encoding: 'utf8' });
  if (decoded.error || decoded.status !== 0) {
    throw new Error(`${args.defmtPrint} could not decode the RTT log (${decoded.error?.message ?? decoded.stderr}): install it with \`cargo install defmt-print --locked\``);
  }
  writeFileSync(join(args.out, 'defmt.log'), decoded.stdout);
  const logged = [...decoded.stdout.matchAll(/recognised (\d) in (\d+) us/g)].map((m) => ({ digit: Number(m[1]), us: Number(m[2]) }));
  const problems = decoded.stdout.split('\n').filter((line) => /\b(WARN|ERROR)\b/.test(line));
  if (logged.length !== results.length) failures.push(`the log has ${logged.length} recognitions for ${results.length} digits drawn`);
  for (const line of problems) failures.push(`the firmware logged: ${line.trim()}`);

  const clkMhz = board.rp2040.clkSys / 1e6;
  let recognised = 0;
  for (const [i, result] of results.entries()) {
    const log = logged[i];
    result.us = log?.us ?? null;
    const ok = result.answer === result.digit && log?.digit === result.digit;
    if (ok) recognised++;
    else failures.push(`digit ${result.digit}: the screen shows ${result.answer ?? 'no answer'}, the log says ${log?.digit ?? 'nothing'}`);
    if (!result.identical) failures.push(`digit ${result.digit}: the screen differs from the simulator's`);
    // The firmware's microsecond clock and the emulator's cycle count time the same stretch.
    if (log && Math.abs(result.cycles / clkMhz - log.us) > 2) {
      failures.push(`digit ${result.digit}: the firmware timed ${log.us} us, the emulator counted ${thousands(result.cycles)} cycles (${(result.cycles / clkMhz).toFixed(0)} us)`);
    }
  }

  const faults = [
    ...board.lcd.faults.map((f) => `ST7789 at ${ms(f.atNs)}: ${f.message}`),
    ...board.bus.faults.map((f) => `SPI1 at ${ms(f.atNs)}: ${f.message}`),
    ...board.touch.faults.map((f) => `XPT2046: ${f}`),
  ];
  for (const fault of faults) failures.push(fault);

  const cycles = results.map((r) => r.cycles);
  const meanCycles = cycles.reduce((a, b) => a + b, 0) / Math.max(1, cycles.length);
  const hostSeconds = (performance.now() - hostStart) / 1e3;
  console.log(
    `board: SPI1: ${(traffic.touchBytes / Math.max(1, traffic.touchPolls)).toFixed(0)} B to the XPT2046 per touch poll, ` +
      `${thousands(traffic.drawBytes / Math.max(1, traffic.drawPolls))} B to the ST7789 per drawing poll (mean), ` +
      `${thousands(traffic.recognitionBytes / Math.max(1, results.length))} B per recognition (the results panel)`,
  );
  console.log(
    `board: cycles per inference: min ${thousands(Math.min(...cycles))}, max ${thousands(Math.max(...cycles))}; ` +
      `stroke samples the firmware missed or read twice: ${offGrid}`,
  );
  console.log(
    `board: emulator: ${thousands(board.instructions)} instructions, ${ms(board.nowNs)} emulated, ${hostSeconds.toFixed(1)} s on the host ` +
      `(${(board.instructions / hostSeconds / 1e6).toFixed(1)} M instructions/s)`,
  );
  if (board.unmodelled.size) {
    const accesses = [...board.unmodelled].map(([peripheral, n]) => `${peripheral} (${n})`).join(', ');
    console.log(`board: register accesses rp2040js does not model, ignored: ${accesses}`);
  }
  copyFileSync(join(args.out, `board-${args.screenshot}.png`), join(args.out, 'board.png'));
  for (const failure of failures) console.log(`board: FAIL: ${failure}`);
  const identical = results.every((r) => r.identical) && bootScreen.differing === 0;
  console.log(
    `board: ${recognised}/${results.length} recognised, screen identical to simulator: ${identical ? 'yes' : 'no'}, ` +
      `${thousands(meanCycles)} cycles/inference (${(meanCycles / clkMhz / 1e3).toFixed(1)} ms at ${clkMhz.toFixed(0)} MHz)`,
  );
  return failures.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  console.log(`board: FAIL: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
}
