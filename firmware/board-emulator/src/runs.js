// @ts-check
/**
 * @file The board test's power-ups: the ten digits, the touch calibration (on a good flash and
 * on a worn one), a reset that keeps it, a reset with its record corrupt, and the build that
 * panics. Each checks what it sees and adds what failed to `failures`.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { POLL_NS, play, pollingSteadily } from './finger.js';
import { findCross } from './screen.js';
import { encodePng } from './png.js';
import { VIEW } from './st7789.js';
import { PICO_FLASH_BYTES } from './uf2.js';
import { FLASH_SECTOR } from './boot-rom.js';
import { COEFFICIENTS_AT, readCalibrationRecord } from './calibration-record.js';
import { Profile, Sampler } from './profile.js';
import {
  BOOT_BOUND_NS,
  STEP_DEADLINE_NS,
  drawDigit,
  faultsOf,
  firstScreen,
  ms,
  powerUp,
  thousands,
  usbSerialLog,
} from './harness.js';

/** @typedef {import('./args.js').Args} Args */
/** @typedef {import('./harness.js').References} References */

/** How long the calibration's finger rests on each cross. */
const CROSS_TOUCH_NS = 100e6;
/** The digit drawn after the calibration, to use the fitted map. */
const DIGIT_AFTER_CALIBRATION = '4';
/** Where the firmware keeps the calibration: the flash's last sector (calibration_store.rs). */
const CALIBRATION_SECTOR = PICO_FLASH_BYTES - FLASH_SECTOR;
/** How long the first screen's calibration notice stays without a touch (app::session::NOTICE_MS). */
const NOTICE_NS = 5000e6;
/**
 * The LED dark this long after a blink ends the blink code's repetition: longer than the gap
 * between two blinks, shorter than the pause after the last (app::fault's BLINK_OFF_MS and
 * BLINK_PAUSE_MS).
 */
const BLINK_PAUSE_SEEN_NS = 1000e6;

/**
 * The ten digits, CLEAR between them.
 *
 * @param {Args} args
 * @param {References} refs
 * @param {string[]} failures
 */
export function digitsRun(args, refs, failures) {
  const powered = powerUp(args);
  const { board, lcdBytes, touchBytes, untilRedrawn } = powered;
  const boot = firstScreen(powered, failures);
  board.runUntil({
    done: () => pollingSteadily(board.penReads, 0),
    deadlineNs: board.nowNs + STEP_DEADLINE_NS,
    what: 'the firmware to poll the touch panel',
  });
  const maybeMs = (/** @type {number | null} */ ns) => (ns === null ? 'never' : ms(ns));
  console.log(
    `board: boot: panel initialised at ${maybeMs(boot.initialisedNs)}, backlight on at ${maybeMs(boot.backlightOnNs)}, ` +
      `first screen complete at ${ms(boot.firstScreenNs)} of emulated time (bound ${ms(BOOT_BOUND_NS)}); ` +
      `bytes to the panel before its init: ${boot.traffic}`,
  );
  const bootScreen = refs.compare(board, 'boot', ['--notice', 'default']);
  console.log(`board: first screen (the default calibration's notice) vs the simulator's: ${bootScreen.text}`);
  if (bootScreen.differing > 0) failures.push("the first screen differs from the simulator's");
  // The notice goes after its time: the screen is then the app's, blank.
  untilRedrawn(lcdBytes(), NOTICE_NS, "the end of the first screen's notice");
  if (board.nowNs < NOTICE_NS) failures.push(`the first screen's notice went at ${ms(board.nowNs)}, before ${ms(NOTICE_NS)}`);
  const blankScreen = refs.compare(board, 'blank', ['--blank']);
  if (blankScreen.differing > 0) failures.push(`after the notice the screen is not the app's blank one: ${blankScreen.text}`);
  const bootView = board.lcd.view();
  // With --profile, the program counter is sampled from each lift to the answer, and the
  // samples inside the inference are counted per function.
  const profile = args.profile > 0 ? new Profile(board.elf.symbols) : null;
  if (profile) board.sampler = new Sampler(args.profile);

  /** @type {{ digit: number, answer: number | '?' | null, identical: boolean, cycles: number, preprocessing: number }[]} */
  const results = [];
  const traffic = { touchBytes: 0, touchPolls: 0, drawBytes: 0, recognitionBytes: 0 };
  let missedSamples = 0;
  for (const [index, digit] of args.digits.entries()) {
    if (index > 0) {
      const bytes = lcdBytes();
      const tap = play(board, refs.polls('clear'), 'a tap on CLEAR');
      untilRedrawn(bytes, tap.endNs, 'the screen after CLEAR');
      board.runUntil({ done: () => pollingSteadily(board.penReads, tap.endNs), deadlineNs: tap.endNs + STEP_DEADLINE_NS, what: 'polling after CLEAR' });
      const cleared = board.lcd.view();
      const differing = cleared.reduce((n, pixel, i) => n + (pixel !== bootView[i] ? 1 : 0), 0);
      if (differing > 0) {
        writeFileSync(join(args.out, `board-clear-${digit}.png`), encodePng(VIEW.width, VIEW.height, cleared));
        failures.push(`after CLEAR (before digit ${digit}) ${differing} pixels differ from the first screen`);
      }
    }
    const script = refs.polls(String(digit));
    const lastTouch = script.findLastIndex((poll) => poll !== null);
    const [touchBefore, lcdBefore] = [touchBytes(), lcdBytes()];
    // Traffic and clock reads up to the lift belong to drawing, after it to recognising.
    const atLift = { ns: 0, lcd: 0, touch: 0 };
    const timerReadsBefore = board.timerReads.length;
    const liftHook = () => {
      Object.assign(atLift, { ns: board.nowNs, lcd: lcdBytes(), touch: touchBytes() });
      if (board.sampler) board.sampler.on = true;
    };
    const played = play(board, script, `digit ${digit}`, new Map([[lastTouch + 1, liftHook]]));
    missedSamples += played.offGrid;
    // Done when the results panel has been drawn (the only display traffic after the lift)
    // and the firmware is back on its poll grid.
    untilRedrawn(atLift.lcd, played.endNs, `the answer to digit ${digit}`);
    board.runUntil({
      done: () => pollingSteadily(board.penReads, played.endNs),
      deadlineNs: played.endNs + STEP_DEADLINE_NS,
      what: `polling after the answer to digit ${digit}`,
    });
    traffic.touchBytes += atLift.touch - touchBefore;
    traffic.touchPolls += script.slice(0, lastTouch + 1).filter((p) => p !== null).length;
    traffic.drawBytes += atLift.lcd - lcdBefore;
    traffic.recognitionBytes += lcdBytes() - atLift.lcd;
    // The step that recognises reads the clock three times: as it starts, then just before and
    // just after the inference, with the preprocessing (the canvas to 28x28, soft float on the
    // M0+) between the first two. So the preprocessing and the inference are the two
    // consecutive stretches between clock reads, after the lift and before the answer is drawn
    // (bytes to the panel), that are longest together; every other stretch there is a wait
    // for the next 10 ms poll or shorter.
    const reads = board.timerReads.slice(timerReadsBefore).filter((r) => r.ns >= atLift.ns);
    const drawn = reads.findIndex((r, i) => i > 0 && r.panelBytes > reads[i - 1].panelBytes);
    const quiet = reads.slice(0, drawn < 0 ? reads.length : drawn);
    let [preprocessing, cycles, inferenceEnd] = [0, 0, 0];
    for (let i = 2; i < quiet.length; i++) {
      const [before, during] = [quiet[i - 1].cycles - quiet[i - 2].cycles, quiet[i].cycles - quiet[i - 1].cycles];
      if (before + during > preprocessing + cycles) [preprocessing, cycles, inferenceEnd] = [before, during, quiet[i].cycles];
    }
    if (board.sampler && profile) {
      profile.add(board.sampler.samples, inferenceEnd - cycles, inferenceEnd);
      Object.assign(board.sampler, { on: false, samples: [] });
    }
    const screen = refs.compare(board, String(digit), ['--digit', String(digit)]);
    results.push({ digit, answer: screen.answer, identical: screen.differing === 0, cycles, preprocessing });
    console.log(
      `board: digit ${digit}: ${screen.text}; ${thousands(cycles)} cycles in the inference, ` +
        `${thousands(preprocessing)} in the preprocessing before it`,
    );
  }

  const log = refs.log(board, 'digits');
  const usb = usbSerialLog(args, board, 'digits', log);
  console.log(`board: USB serial: ${usb.text}, the same lines: ${usb.same ? 'yes' : 'no'}`);
  if (!usb.same || usb.lines === 0) failures.push(`the USB serial log is not the defmt log (${usb.text}; digits.usb.txt)`);
  const logged = [...log.matchAll(/recognised (\d) in (\d+) us/g)].map((m) => ({ digit: Number(m[1]), us: Number(m[2]) }));
  if (logged.length !== results.length) failures.push(`the log has ${logged.length} recognitions for ${results.length} digits drawn`);
  const clkMhz = board.rp2040.clkSys / 1e6;
  let recognised = 0;
  for (const [i, result] of results.entries()) {
    const entry = logged[i];
    if (result.answer === result.digit && entry?.digit === result.digit) recognised++;
    else failures.push(`digit ${result.digit}: the screen shows ${result.answer ?? 'no answer'}, the log says ${entry?.digit ?? 'nothing'}`);
    if (!result.identical) failures.push(`digit ${result.digit}: the screen differs from the simulator's`);
    // The firmware's microsecond clock and the emulator's cycle count time the same stretch.
    if (entry && Math.abs(result.cycles / clkMhz - entry.us) > 2) {
      failures.push(
        `digit ${result.digit}: the firmware timed ${entry.us} us, the emulator counted ` +
          `${thousands(result.cycles)} cycles (${(result.cycles / clkMhz).toFixed(0)} us)`,
      );
    }
  }
  if (missedSamples > 0) failures.push(`the firmware missed or read twice ${missedSamples} stroke samples`);
  failures.push(...faultsOf(board, log));

  const cycles = results.map((r) => r.cycles);
  console.log(
    `board: SPI1: ${(traffic.touchBytes / Math.max(1, traffic.touchPolls)).toFixed(0)} B to the XPT2046 per touch poll, ` +
      `${thousands(traffic.drawBytes / Math.max(1, traffic.touchPolls))} B to the ST7789 per drawing poll (mean), ` +
      `${thousands(traffic.recognitionBytes / Math.max(1, results.length))} B per recognition (the results panel)`,
  );
  const preprocessing = results.map((r) => r.preprocessing);
  console.log(
    `board: cycles per inference: min ${thousands(Math.min(...cycles))}, max ${thousands(Math.max(...cycles))}; ` +
      `per preprocessing (the canvas to 28x28, before it): min ${thousands(Math.min(...preprocessing))}, ` +
      `max ${thousands(Math.max(...preprocessing))}; stroke samples the firmware missed or read twice: ${missedSamples}`,
  );
  if (profile) {
    const mean = cycles.reduce((a, b) => a + b, 0) / Math.max(1, cycles.length);
    const lines = profile.lines(mean);
    const file = join(args.out, 'profile.txt');
    const header =
      `# Cycles per inference by function: ${profile.total} samples of the program counter, on average one every ` +
      `${args.profile} cycles, in ${cycles.length} inference${cycles.length === 1 ? '' : 's'} (mean ${thousands(mean)} cycles)\n`;
    writeFileSync(file, header + lines.join('\n') + '\n');
    const addresses = join(args.out, 'profile-addresses.txt');
    writeFileSync(addresses, header.replace('by function', 'by instruction address') + profile.addressLines(mean).join('\n') + '\n');
    console.log(`board: profile of the inference (${file}), the top functions:`);
    for (const line of lines.slice(0, 8)) console.log(`board: profile: ${line}`);
  }
  // The screenshot for the README: the chosen digit's screen, or the last one drawn.
  const shown = args.digits.includes(args.screenshot) ? args.screenshot : args.digits[args.digits.length - 1];
  copyFileSync(join(args.out, `board-${shown}.png`), join(args.out, 'board.png'));
  return {
    board,
    recognised,
    drawn: results.length,
    identical: bootScreen.differing === 0 && blankScreen.differing === 0 && results.every((r) => r.identical),
    meanCycles: cycles.reduce((a, b) => a + b, 0) / Math.max(1, cycles.length),
    clkMhz,
  };
}

/**
 * Power-up with a finger on the panel: the touch calibration. With `wornFlash` the flash takes
 * no writes: the firmware must say so in its log and keep the fit until the next reset (the
 * digit after it is still recognised).
 *
 * @param {Args} args
 * @param {References} refs
 * @param {string[]} failures
 * @param {boolean} wornFlash
 * @returns {{ flash: Uint8Array, coefficients: string | null, result: Uint16Array, notStored: string | null } | undefined}
 */
export function calibrationRun(args, refs, failures, wornFlash = false) {
  const run = wornFlash ? 'calibration on a worn flash' : 'calibration';
  const name = wornFlash ? 'worn-flash' : 'calibration';
  const fail = (/** @type {string} */ message) => failures.push(`${run}: ${message}`);
  const powered = powerUp(args, { wornFlash });
  const { board, lcdBytes, untilRedrawn } = powered;
  board.setFinger({ x: 160, y: 120 });
  firstScreen(powered, failures);
  const prompt = refs.compare(board, `${name}-prompt`, ['--calibration']);
  if (prompt.differing > 0) fail(`the prompt differs from the simulator's: ${prompt.text}`);
  board.setFinger(null);
  /** @type {{ x: number, y: number }[]} */
  const touched = [];
  for (let i = 1; i <= 3; i++) {
    untilRedrawn(lcdBytes(), board.nowNs, `calibration cross ${i}`);
    const cross = findCross(board.lcd.view());
    if (!cross) {
      writeFileSync(join(args.out, `board-${name}-${i}.png`), encodePng(VIEW.width, VIEW.height, board.lcd.view()));
      fail(`no cross on the screen for touch ${i} (board-${name}-${i}.png)`);
      return undefined;
    }
    touched.push(cross);
    board.setFinger(cross);
    const lift = board.nowNs + CROSS_TOUCH_NS;
    board.runUntil({ done: () => board.nowNs >= lift, deadlineNs: lift + POLL_NS, what: `a touch on cross ${i}` });
    board.setFinger(null);
  }
  // The result, with the coefficients and whether they were kept, stays until a tap.
  untilRedrawn(lcdBytes(), board.nowNs, 'the calibration result');
  const result = board.lcd.view();
  writeFileSync(join(args.out, `board-${name}-result.png`), encodePng(VIEW.width, VIEW.height, result));
  const beforeTap = lcdBytes();
  board.setFinger({ x: 160, y: 120 });
  const tapEnd = board.nowNs + CROSS_TOUCH_NS;
  board.runUntil({ done: () => board.nowNs >= tapEnd, deadlineNs: tapEnd + POLL_NS, what: 'a tap on the calibration result' });
  board.setFinger(null);
  untilRedrawn(beforeTap, board.nowNs, 'the screen after the calibration');
  const after = refs.compare(board, `after-${name}`, ['--blank']);
  if (after.differing > 0) fail(`the screen after it is not the app's first screen: ${after.text}`);
  const calibratedNs = board.nowNs;
  board.runUntil({
    done: () => pollingSteadily(board.penReads, calibratedNs),
    deadlineNs: calibratedNs + STEP_DEADLINE_NS,
    what: 'polling after the calibration',
  });
  const screen = drawDigit(powered, refs, DIGIT_AFTER_CALIBRATION, name, 'after the calibration');

  const log = refs.log(board, name);
  const fitted = log.match(/calibration coefficients: \[([^\]]*)\]/);
  const coefficients = fitted ? fitted[1].split(',').map(Number) : [];
  // The fitted map must send the panel's readings back to where the finger was.
  let worst = Infinity;
  if (coefficients.length === 6 && coefficients.every(Number.isFinite)) {
    const [a, b, c, d, e, f] = coefficients;
    worst = 0;
    for (const [x, y] of [[0, 0], [319, 0], [0, 239], [319, 239], [160, 120]]) {
      const raw = board.touch.ideal({ x, y });
      worst = Math.max(worst, Math.hypot(a * raw.x + b * raw.y + c - x, d * raw.x + e * raw.y + f - y));
    }
  }
  console.log(
    `board: ${run}: crosses at ${touched.map((p) => `(${p.x}, ${p.y})`).join(', ')}; the fitted map is off by at most ` +
      `${worst.toFixed(2)} px at the screen's corners and centre; then ${screen.text}`,
  );
  if (!(worst <= 1)) fail(`the fitted map is ${fitted ? `off by ${worst.toFixed(2)} px` : 'not in the log'}`);
  if (screen.answer !== Number(DIGIT_AFTER_CALIBRATION)) {
    fail(`a ${DIGIT_AFTER_CALIBRATION} drawn after it shows ${screen.answer ?? 'no answer'}`);
  }

  // What it wrote: one erase of the last sector and one page, a record of the logged map.
  const writes = board.rom.writes.map((w) => `${w.op} ${w.bytes} B at 0x${w.offset.toString(16)}`);
  const expected = [`erase ${FLASH_SECTOR} B at 0x${CALIBRATION_SECTOR.toString(16)}`, `program 256 B at 0x${CALIBRATION_SECTOR.toString(16)}`];
  if (writes.join() !== expected.join()) fail(`flash writes ${writes.join(', ') || 'none'}, not ${expected.join(', ')}`);
  const notStored = log.match(/calibration not stored \(.*\): it holds until the next reset/);
  if (wornFlash) {
    // The one warning expected: the write that did not take.
    console.log(`board: ${run}: ${notStored ? `the log says "${notStored[0]}"` : 'the log does not say the fit was not kept'}`);
    if (!notStored) fail('the log does not say the calibration could not be stored');
  } else {
    let stored = /** @type {number[]} */ ([]);
    try {
      stored = readCalibrationRecord(board.rp2040.flash.subarray(CALIBRATION_SECTOR));
    } catch (e) {
      fail(`no valid record in the flash's last sector: ${e instanceof Error ? e.message : e}`);
    }
    // The log's five decimals against the record's f32s.
    const sameMap =
      stored.length === 6 && coefficients.length === 6 && stored.every((c, i) => Math.abs(c - coefficients[i]) <= 5e-6 + 1e-6 * Math.abs(c));
    console.log(`board: ${run}: flash writes: ${writes.join(', ') || 'none'}; the record holds the logged map: ${sameMap ? 'yes' : 'no'}`);
    if (!sameMap) fail(`the stored record holds [${stored.join(', ')}], the log [${coefficients.join(', ')}]`);
  }
  const unexpected = log
    .split('\n')
    .filter((line) => !(wornFlash && notStored && line.includes(notStored[0])))
    .join('\n');
  failures.push(...faultsOf(board, unexpected).map((f) => `${run}: ${f}`));
  return { flash: board.rp2040.flash.slice(), coefficients: fitted ? fitted[1] : null, result, notStored: notStored?.[0] ?? null };
}

/**
 * A reset that keeps the flash the calibration run left: the stored calibration must be the one
 * used (the log gives its coefficients, the first screen says so), a digit drawn at once is
 * recognised with it (the touch also ends the notice), and nothing is written to flash.
 *
 * @param {Args} args
 * @param {References} refs
 * @param {{ flash: Uint8Array, coefficients: string | null }} calibrated
 * @param {string[]} failures
 * @returns {boolean} whether the stored calibration was used
 */
export function storedCalibrationRun(args, refs, calibrated, failures) {
  const powered = powerUp(args, { flashBefore: calibrated.flash });
  const { board } = powered;
  firstScreen(powered, failures);
  const first = refs.compare(board, 'stored-calibration', ['--notice', 'stored']);
  board.runUntil({ done: () => pollingSteadily(board.penReads, 0), deadlineNs: board.nowNs + STEP_DEADLINE_NS, what: 'polling after the reset' });
  const screen = drawDigit(powered, refs, DIGIT_AFTER_CALIBRATION, 'stored', 'after the reset');
  const log = refs.log(board, 'stored-calibration');
  const used = log.match(/touch calibration: stored in flash, \[([^\]]*)\]/);
  const kept = used !== null && calibrated.coefficients !== null && used[1] === calibrated.coefficients;
  console.log(
    `board: reset with the flash kept: ${used ? `the log says "${used[0]}"` : 'the log names no stored calibration'}; ` +
      `the first screen: ${first.text}; then ${screen.text}`,
  );
  if (!kept) failures.push(`reset: the stored calibration [${calibrated.coefficients}] is not the one used (${used?.[0] ?? 'none logged'})`);
  if (first.differing > 0) failures.push(`reset: the first screen is not the simulator's stored-calibration notice: ${first.text}`);
  if (screen.answer !== Number(DIGIT_AFTER_CALIBRATION) || screen.differing > 0) {
    failures.push(`reset: a ${DIGIT_AFTER_CALIBRATION} drawn shows ${screen.answer ?? 'no answer'} (${screen.text})`);
  }
  if (board.rom.writes.length > 0) failures.push(`reset: the firmware wrote to flash ${board.rom.writes.length} times unasked`);
  failures.push(...faultsOf(board, log).map((f) => `reset: ${f}`));
  return kept && first.differing === 0 && screen.answer === Number(DIGIT_AFTER_CALIBRATION);
}

/**
 * A reset with one byte of the stored record flipped: the firmware must refuse the record
 * (the CRC), run the default calibration and say so on its first screen and in its log, and
 * leave the flash alone.
 *
 * @param {Args} args
 * @param {References} refs
 * @param {{ flash: Uint8Array }} calibrated
 * @param {string[]} failures
 * @returns {boolean} whether the defaults were used and shown
 */
export function corruptRecordRun(args, refs, calibrated, failures) {
  const flash = calibrated.flash.slice();
  flash[CALIBRATION_SECTOR + COEFFICIENTS_AT] ^= 0x10;
  const powered = powerUp(args, { flashBefore: flash });
  const { board } = powered;
  firstScreen(powered, failures);
  const first = refs.compare(board, 'corrupt-record', ['--notice', 'unreadable']);
  const log = refs.log(board, 'corrupt-record');
  // The app's report, as both logs (defmt and USB) print it.
  const refused = log.match(/touch calibration: the default, the stored one is unreadable \(calibration record corrupt: CRC 0x[0-9a-f]{8} stored, 0x[0-9a-f]{8} computed\)/);
  console.log(`board: corrupt record: ${refused ? `the log says "${refused[0]}"` : 'the log does not refuse it'}; the first screen: ${first.text}`);
  if (!refused) failures.push('corrupt record: the log does not say the stored record was refused for its CRC');
  if (first.differing > 0) failures.push(`corrupt record: the first screen is not the simulator's unreadable-record notice: ${first.text}`);
  if (board.rom.writes.length > 0) failures.push(`corrupt record: the firmware wrote to flash ${board.rom.writes.length} times unasked`);
  // Its warning about the record is the expected one.
  const unexpected = log
    .split('\n')
    .filter((line) => !refused || !line.includes(refused[0]))
    .join('\n');
  failures.push(...faultsOf(board, unexpected).map((f) => `corrupt record: ${f}`));
  return refused !== null && first.differing === 0;
}

/**
 * The firmware built to panic once its first screen is up: the screen must show the panic the
 * log reports, pixel for pixel as the simulator draws that fault, and the LED must repeat the
 * blink count the firmware logs for it.
 *
 * @param {Args} args
 * @param {References} refs
 * @param {string[]} failures
 * @returns {boolean} whether the panic was shown on the screen
 */
export function panicRun(args, refs, failures) {
  const { board } = powerUp(args, { firmware: { elf: args.panicElf, uf2: '' } });
  // Done once the LED has shown a whole code: its blinks, then the long pause.
  board.runUntil({
    done: () => {
      const last = board.ledChanges.at(-1);
      return last !== undefined && !last[1] && board.nowNs - last[0] >= BLINK_PAUSE_SEEN_NS;
    },
    deadlineNs: STEP_DEADLINE_NS,
    what: "the panic's blink code on the LED",
  });
  const blinks = board.ledChanges.filter(([, on]) => on).length;
  const log = refs.log(board, 'panic', args.panicElf);
  const panicked = log.match(/panicked at (\S+):(\d+): (.*)$/m);
  const logged = log.match(/the LED repeats (\d+) blinks/);
  if (!panicked) {
    failures.push('panic: the log has no `panicked at FILE:LINE: MESSAGE` line');
    return false;
  }
  const [, file, line, message] = panicked;
  const screen = refs.compare(board, 'panic', ['--panic', `${file}:${line}: ${message}`]);
  console.log(
    `board: panic: the log says "${panicked[0]}"; the screen: ${screen.text}; ` +
      `the LED blinked ${blinks} times, then paused (the log: ${logged ? logged[1] : 'no'} blinks)`,
  );
  if (screen.differing > 0) failures.push(`panic: the screen is not the simulator's fault screen for it: ${screen.text}`);
  if (!logged || Number(logged[1]) !== blinks) failures.push(`panic: the LED blinked ${blinks} times, the log says ${logged?.[1] ?? 'nothing'}`);
  // The panic's own ERROR lines are expected; what the parts object to is not.
  failures.push(...faultsOf(board, '').map((f) => `panic: ${f}`));
  return screen.differing === 0;
}
