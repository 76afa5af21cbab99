// @ts-check
/**
 * @file What every run of the board test shares: powering a board up with the test's options,
 * its first screen's checks, drawing a digit, the references from outside the board (the
 * simulator's finger scripts and screens, defmt-print's log), and what the part models and the
 * log object to.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Board } from './board.js';
import { parsePolls, play, pollingSteadily } from './finger.js';
import { encodePng } from './png.js';
import { VIEW } from './st7789.js';
import { PICO_FLASH_BYTES, readUf2 } from './uf2.js';

/** @typedef {import('./args.js').Args} Args */

/** Power-on to the first complete screen, at most: a second is what a user will wait. */
export const BOOT_BOUND_NS = 1000e6;
/** The display is done drawing when it has had no byte for this long. */
const DISPLAY_QUIET_NS = 30e6;
/** The longest a step may take in emulated time before the firmware counts as hung. */
export const STEP_DEADLINE_NS = 5e9;

/** @param {number} ns */
export const ms = (ns) => `${(ns / 1e6).toFixed(1)} ms`;
/** @param {number} n */
export const thousands = (n) => Math.round(n).toLocaleString('en-US');

/**
 * What the test needs from outside the board: the simulator (finger scripts and reference
 * screens) and defmt-print (the log).
 *
 * @param {Args} args
 */
export function references(args) {
  const simulator = (/** @type {string[]} */ simulatorArgs) => {
    const run = spawnSync(args.simulator, simulatorArgs, { encoding: 'utf8' });
    if (run.error) throw new Error(`cannot run the simulator ${args.simulator}: ${run.error.message}`);
    return run;
  };
  return {
    /** The finger script of a digit or of a CLEAR tap. */
    polls(/** @type {string} */ script) {
      const run = simulator(['--polls', script]);
      if (run.status !== 0) throw new Error(`${args.simulator} --polls ${script} failed: ${run.stderr}`);
      return parsePolls(run.stdout);
    },
    /**
     * Writes the emulated screen and has the simulator read its answer and compare it with
     * its own screen of `drawing`.
     */
    compare(/** @type {Board} */ board, /** @type {string} */ name, /** @type {string[]} */ drawing) {
      const boardPng = join(args.out, `board-${name}.png`);
      writeFileSync(boardPng, encodePng(VIEW.width, VIEW.height, board.lcd.view()));
      const run = simulator(['--png', join(args.out, `simulator-${name}.png`), ...drawing, '--compare', boardPng]);
      const line = run.stdout.match(/^compare: answer (\d|\?|none), (\d+) pixels differ.*$/m);
      if (!line) throw new Error(`the simulator did not compare ${boardPng}: ${run.stdout}${run.stderr}`);
      // A digit, '?' (the model unsure) or null (no answer shown).
      const answer = line[1] === 'none' ? null : line[1] === '?' ? /** @type {'?'} */ ('?') : Number(line[1]);
      return { answer, differing: Number(line[2]), text: line[0] };
    },
    /** The firmware's defmt log, decoded against its ELF as a probe's host tools do. */
    log(/** @type {Board} */ board, /** @type {string} */ name, elf = args.elf) {
      const raw = join(args.out, `${name}.defmt`);
      writeFileSync(raw, Uint8Array.from(board.rtt.received));
      const decoded = spawnSync(args.defmtPrint, ['-e', elf], { input: readFileSync(raw), encoding: 'utf8' });
      if (decoded.error || decoded.status !== 0) {
        throw new Error(
          `${args.defmtPrint} could not decode the RTT log (${decoded.error?.message ?? decoded.stderr}): ` +
            'install it with `cargo install defmt-print --locked`',
        );
      }
      writeFileSync(join(args.out, `${name}.log`), decoded.stdout);
      return decoded.stdout;
    },
  };
}

/** @typedef {ReturnType<typeof references>} References */

/**
 * Checks the text log over USB serial against the defmt log of the same run: the same lines,
 * level and message, in the same order (defmt-print adds the time). Writes it to `<name>.usb.txt`.
 *
 * @param {Args} args
 * @param {Board} board
 * @param {string} name
 * @param {string} log the decoded defmt log
 * @returns {{ lines: number, same: boolean, text: string }}
 */
export function usbSerialLog(args, board, name, log) {
  const text = Buffer.from(board.usbReceived).toString('utf8');
  writeFileSync(join(args.out, `${name}.usb.txt`), text);
  const usb = text.split('\r\n').filter((line) => line !== '');
  const rtt = log
    .split('\n')
    .map((line) => line.match(/^\s*[\d.]+ (TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$/))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${m[2]}`);
  const same = usb.length === rtt.length && usb.every((line, i) => line === rtt[i]);
  return { lines: usb.length, same, text: `${usb.length} lines over USB serial, the defmt log has ${rtt.length}` };
}

/** Every board powered up, so that a run that stops early can still say what they saw. */
/** @type {Board[]} */
export const boards = [];
/**
 * A board with the test's options, and the traffic views the checks use; `firmware` says what
 * it runs (the board's ELF and UF2 by default), `flashBefore` what its flash held before the
 * image was written (a reset; erased by default), `wornFlash` that its flash takes no writes.
 *
 * @param {Args} args
 * @param {{ firmware?: { elf: string, uf2: string }, flashBefore?: Uint8Array, wornFlash?: boolean }} [options]
 */
export function powerUp(args, { firmware = { elf: args.elf, uf2: args.uf2 }, flashBefore, wornFlash } = {}) {
  let elf;
  try {
    elf = readFileSync(firmware.elf);
  } catch (e) {
    throw new Error(
      `cannot read the firmware ${firmware.elf} (${e instanceof Error ? e.message : e}): build it in firmware/ with ` +
        'cargo build --release -p pico-restouch --no-default-features --features rp2040 --target thumbv6m-none-eabi ' +
        '(with --features test-panic for --panic-elf), as emulate-board.sh does',
    );
  }
  /** @type {{ name: string, segments: import('./elf.js').Segment[] } | undefined} */
  let flash;
  if (firmware.uf2) {
    let uf2;
    try {
      uf2 = readFileSync(firmware.uf2);
    } catch (e) {
      throw new Error(`cannot read ${firmware.uf2} (${e instanceof Error ? e.message : e}): write it with firmware/build-uf2.sh`);
    }
    flash = { name: firmware.uf2, segments: readUf2(uf2, firmware.uf2, PICO_FLASH_BYTES) };
  }
  const board = new Board(elf, firmware.elf, {
    flash,
    flashBefore,
    wornFlash,
    seed: args.seed,
    touchNoise: args.noise,
    touchSpikes: args.spikes,
    touchSettling: args.settling,
  });
  boards.push(board);
  const lcdBytes = () => board.bus.bytes.get('ST7789') ?? 0;
  return {
    board,
    lcdBytes,
    touchBytes: () => board.bus.bytes.get('XPT2046') ?? 0,
    displayQuiet: () => board.nowNs - (board.bus.lastByteNs.get('ST7789') ?? Infinity) >= DISPLAY_QUIET_NS,
    /** Runs until the display has drawn something since `bytes` and gone quiet. */
    untilRedrawn(/** @type {number} */ bytes, /** @type {number} */ sinceNs, /** @type {string} */ what) {
      board.runUntil({
        done: () => lcdBytes() > bytes && board.nowNs - (board.bus.lastByteNs.get('ST7789') ?? Infinity) >= DISPLAY_QUIET_NS,
        deadlineNs: sinceNs + STEP_DEADLINE_NS,
        what,
      });
    },
  };
}

/**
 * Runs the board to its first complete screen (every pixel written, the display quiet) and
 * checks the power-up: nothing reaches the panel before its reset, no pixel before its init
 * ends (DISPON, awake), and the backlight comes on once the panel is initialised, before the
 * first screen is complete, so that whatever the firmware shows next (a fault screen
 * included) is seen.
 *
 * @param {ReturnType<typeof powerUp>} powered
 * @param {string[]} failures
 */
export function firstScreen({ board, displayQuiet }, failures) {
  board.runUntil({
    done: () => board.lcd.fullFrameWritten && board.lcd.registers.displayOn && displayQuiet(),
    deadlineNs: STEP_DEADLINE_NS,
    what: 'the first complete screen',
  });
  const firstScreenNs = board.bus.lastByteNs.get('ST7789') ?? 0;
  const initialisedNs = board.lcd.displayOnAtNs;
  const backlightOnNs = board.backlightChanges.find(([, on]) => on)?.[0] ?? null;
  const { bytesBeforeReset, pixelBytesBeforeInit } = board.lcd;
  if (firstScreenNs > BOOT_BOUND_NS) failures.push(`the first screen took ${ms(firstScreenNs)} (bound ${ms(BOOT_BOUND_NS)})`);
  if (bytesBeforeReset + pixelBytesBeforeInit > 0) {
    failures.push(
      `the panel got ${bytesBeforeReset} bytes before its reset and ${pixelBytesBeforeInit} pixel bytes before its init ended`,
    );
  }
  if (backlightOnNs === null) failures.push('the backlight never came on');
  else if (initialisedNs === null || backlightOnNs < initialisedNs) {
    failures.push(`the backlight came on at ${ms(backlightOnNs)}, before the panel was initialised: the user sees its power-on noise`);
  } else if (backlightOnNs > firstScreenNs) {
    failures.push(
      `the backlight came on at ${ms(backlightOnNs)}, after the first screen (${ms(firstScreenNs)}), not as soon as the panel ` +
        `was initialised (${ms(initialisedNs)}): a fault before the first screen would go unseen`,
    );
  }
  return { firstScreenNs, initialisedNs, backlightOnNs, traffic: bytesBeforeReset + pixelBytesBeforeInit };
}

/**
 * Draws `digit` with the synthetic finger and compares the answer's screen with the
 * simulator's (written as `board-<name>-<digit>.png`).
 *
 * @param {ReturnType<typeof powerUp>} powered
 * @param {References} refs
 * @param {string} digit
 * @param {string} name
 * @param {string} when For messages: "after ...".
 */
export function drawDigit(powered, refs, digit, name, when) {
  const { board, lcdBytes, untilRedrawn } = powered;
  const lcdBefore = lcdBytes();
  const played = play(board, refs.polls(digit), `digit ${digit} ${when}`);
  untilRedrawn(lcdBefore, played.endNs, `the answer to digit ${digit} ${when}`);
  board.runUntil({ done: () => displayQuietAndPolling(powered, played.endNs), deadlineNs: played.endNs + STEP_DEADLINE_NS, what: 'the answer' });
  return refs.compare(board, `${name}-${digit}`, ['--digit', digit]);
}

/**
 * @param {ReturnType<typeof powerUp>} powered
 * @param {number} sinceNs
 */
function displayQuietAndPolling({ board, displayQuiet }, sinceNs) {
  return displayQuiet() && pollingSteadily(board.penReads, sinceNs);
}

/**
 * What the part models and the log object to.
 *
 * @param {Board} board
 * @param {string} log
 */
export function faultsOf(board, log) {
  return [
    ...board.lcd.faults.map((f) => `ST7789 at ${ms(f.atNs)}: ${f.message}`),
    ...board.bus.faults.map((f) => `SPI1 at ${ms(f.atNs)}: ${f.message}`),
    ...board.touch.faults.map((f) => `XPT2046: ${f}`),
    ...log.split('\n').filter((line) => /\b(WARN|ERROR)\b/.test(line)).map((line) => `the firmware logged: ${line.trim()}`),
  ];
}
