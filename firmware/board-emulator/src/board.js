// @ts-check
/**
 * @file A Raspberry Pi Pico (RP2040, rp2040js) with the Waveshare Pico-ResTouch-LCD-2.8 plugged
 * on: the ST7789 display and the XPT2046 touch controller share SPI1 with the microSD slot
 * (the board's default, non-SDIO wiring), the backlight and the touch pen-down line are GPIOs.
 * The board runs the core in emulated time (cycles at clk_sys; sleep skips to the next timer
 * event), reads the defmt log over RTT like a probe and the text log over USB serial like a
 * terminal, and stops with a description of what it
 * last saw when the firmware faults, calls a part of the boot ROM that is not emulated (the
 * flash routines are: `BootRom`), or sleeps with nothing to wake it.
 */
import { GPIOPinState, RP2040, USBCDC } from 'rp2040js';
import { BootRom, ROM_END, bootFromFlash } from './boot-rom.js';
import { readElf } from './elf.js';
import { RttReader } from './rtt.js';
import { MAX_SPI_HZ as SD_MAX_SPI_HZ, SdCard } from './sd-card.js';
import { SpiBus } from './spi-bus.js';
import { St7789 } from './st7789.js';
import { MAX_SPI_HZ as TOUCH_MAX_SPI_HZ, Xpt2046 } from './xpt2046.js';

/** The Pico-ResTouch-LCD-2.8's wiring (Waveshare's pinout), pins named by role. */
export const PINS = Object.freeze({
  lcdDataCommand: 8,
  lcdChipSelect: 9,
  spiClock: 10,
  spiMosi: 11,
  spiMiso: 12,
  backlight: 13,
  lcdReset: 15,
  touchChipSelect: 16,
  touchPenIrq: 17,
  sdChipSelect: 22,
  /** On the Pico itself: the firmware's fault blink code. */
  statusLed: 25,
});
/** The display board's parts are on the RP2040's second SPI controller. */
const SPI_INDEX = 1;
/** IO_BANK0 function select of a GPIO routed to an SPI controller. */
const FUNCSEL_SPI = 1;
/** The ST7789's fastest write clock (datasheet: 16 ns write cycle). */
const LCD_MAX_SPI_HZ = 62_500_000;
/** How often the probe-like RTT reader drains the log, in instructions. */
const RTT_DRAIN_EVERY = 1 << 14;

/**
 * The level a line settles at: driven by the chip, or set by the pad's pulls against a pull
 * the part itself has (`external`). A pad pull-down fighting a part's pull-up leaves the line
 * mid-rail, which is read here as low: the worst case for a chip select.
 *
 * @param {import('rp2040js').GPIOPin} pin
 * @param {'up' | 'none'} external
 */
export function lineLow(pin, external = 'none') {
  switch (pin.value) {
    case GPIOPinState.Low:
    case GPIOPinState.InputPullDown:
      return true;
    case GPIOPinState.High:
    case GPIOPinState.InputPullUp:
    case GPIOPinState.InputBusKeeper:
      return false;
    case GPIOPinState.Input:
      return external !== 'up';
  }
  return false;
}

/**
 * The parts of rp2040js's SimulationClock the run loop uses.
 *
 * @typedef {object} SimulationClock
 * @property {number} nanos
 * @property {object | null} nextAlarm
 * @property {number} nanosToNextAlarm
 * @property {(deltaNanos: number) => void} tick
 */

/**
 * @typedef {object} TimedRead
 * @property {number} ns Emulated time of the read.
 * @property {number} cycles The core's cycle counter then.
 */

/**
 * @typedef {TimedRead & { panelBytes: number }} ClockRead
 * @property {number} panelBytes Bytes sent to the display (ST7789) up to the read.
 */

export class Board {
  /**
   * @param {Uint8Array} elfBytes
   * @param {string} elfName
   * @param {{ touchNoise?: number, touchSpikes?: number, touchSettling?: number, seed?: number, flash?: { name: string, segments: import('./elf.js').Segment[] }, flashBefore?: Uint8Array, wornFlash?: boolean }} [options]
   *   `flash`: what to write into flash instead of the ELF's segments (the pages of its UF2 file,
   *   and that file's name). `flashBefore`: the whole flash as an earlier board left it (a reset
   *   keeps it; the image is then written over it, as a flasher writes only its own pages);
   *   erased otherwise. `wornFlash`: the flash no longer takes writes (`BootRom`'s `worn`).
   */
  constructor(elfBytes, elfName, options = {}) {
    this.elf = readElf(elfBytes, elfName);
    const rp2040 = new RP2040();
    this.rp2040 = rp2040;
    /** Accesses to registers rp2040js does not model, per peripheral: ignored, reported. */
    /** @type {Map<string, number>} */
    this.unmodelled = new Map();
    /** @type {string | null} */
    this.fatal = null;
    rp2040.logger = {
      debug: () => {},
      info: () => {},
      warn: (component) => this.unmodelled.set(component, (this.unmodelled.get(component) ?? 0) + 1),
      error: (component, message) => {
        this.fatal ??= `the emulator stopped: [${component}] ${message}`;
      },
    };
    rp2040.onBreak = (code) => {
      const at = rp2040.core.PC - rp2040.core.breakRewind;
      this.fatal ??= `the core hit a breakpoint/UDF (#${code}) at ${hex(at)}: a panic (panic-probe) or a debug trap`;
    };

    const gpio = rp2040.gpio;
    this.lcd = new St7789({ seed: options.seed });
    this.touch = new Xpt2046({
      noise: options.touchNoise,
      spikeRate: options.touchSpikes,
      settling: options.touchSettling,
      seed: options.seed,
    });
    this.sd = new SdCard();
    const now = () => rp2040.clock.nanos;
    const { lcd, touch, sd } = this;
    this.bus = new SpiBus({
      // SSPCR0 (`control0`) is private in rp2040js's typings, public at run time.
      controller: /** @type {import('./spi-bus.js').SpiController} */ (/** @type {unknown} */ (rp2040.spi[SPI_INDEX])),
      clock: rp2040.clock,
      devices: [
        {
          name: 'ST7789',
          selected: () => lineLow(gpio[PINS.lcdChipSelect]),
          maxHz: LCD_MAX_SPI_HZ,
          transfer: (byte, ns) => lcd.transfer(byte, !lineLow(gpio[PINS.lcdDataCommand]), ns),
        },
        {
          name: 'XPT2046',
          selected: () => lineLow(gpio[PINS.touchChipSelect]),
          maxHz: TOUCH_MAX_SPI_HZ,
          transfer: (byte) => {
            const out = touch.transfer(byte);
            this.updatePenIrq();
            return out;
          },
        },
        {
          name: 'SD card',
          // The card holds CS/DAT3 up with its own 50 kohm resistor.
          selected: () => lineLow(gpio[PINS.sdChipSelect], 'up'),
          maxHz: SD_MAX_SPI_HZ,
          transfer: (byte) => sd.transfer(byte),
        },
      ],
      unrouted: () => {
        for (const [role, pin] of [['SCK (GPIO 10)', PINS.spiClock], ['MOSI (GPIO 11)', PINS.spiMosi], ['MISO (GPIO 12)', PINS.spiMiso]]) {
          if (gpio[/** @type {number} */ (pin)].functionSelect !== FUNCSEL_SPI) return /** @type {string} */ (role);
        }
        return null;
      },
    });
    gpio[PINS.lcdReset].addListener(() => lcd.setResetLine(lineLow(gpio[PINS.lcdReset]), now()));
    lcd.setResetLine(lineLow(gpio[PINS.lcdReset]), 0);
    gpio[PINS.lcdChipSelect].addListener(() => {
      if (!lineLow(gpio[PINS.lcdChipSelect])) lcd.deselect();
    });
    gpio[PINS.touchChipSelect].addListener(() => {
      if (!lineLow(gpio[PINS.touchChipSelect])) touch.deselect();
    });
    /** Times the backlight switched, `[ns, on]`. */
    /** @type {[number, boolean][]} */
    this.backlightChanges = [];
    gpio[PINS.backlight].addListener(() => this.backlightChanges.push([now(), this.backlightOn]));
    /** Times the Pico's LED switched, `[ns, on]`. */
    /** @type {[number, boolean][]} */
    this.ledChanges = [];
    gpio[PINS.statusLed].addListener(() => {
      const on = !lineLow(gpio[PINS.statusLed]);
      // The pin listener also fires on changes that leave the level as it was.
      if (on !== (this.ledChanges.at(-1)?.[1] ?? false)) this.ledChanges.push([now(), on]);
    });
    this.updatePenIrq();

    /** Pen-down line reads from thread mode: when the firmware polls the panel. */
    /** @type {TimedRead[]} */
    this.penReads = [];
    const sio = rp2040.sio;
    const sioRead = sio.readUint32.bind(sio);
    const GPIO_IN = 0x004;
    sio.readUint32 = (offset) => {
      if (offset === GPIO_IN && rp2040.core.IPSR === 0) this.penReads.push({ ns: now(), cycles: rp2040.core.cycles });
      return sioRead(offset);
    };
    /** The profile's program counter samples, when one is asked for (`--profile`). */
    /** @type {import('./profile.js').Sampler | null} */
    this.sampler = null;
    /** Timer reads from thread mode: the firmware's `Instant::now()`. */
    /** @type {ClockRead[]} */
    this.timerReads = [];
    const timer = rp2040.peripherals[0x40054];
    const timerRead = timer.readUint32.bind(timer);
    const TIMERAWL = 0x28;
    timer.readUint32 = (offset) => {
      if (offset === TIMERAWL && rp2040.core.IPSR === 0) {
        const panelBytes = this.bus.bytes.get('ST7789') ?? 0;
        this.timerReads.push({ ns: now(), cycles: rp2040.core.cycles, panelBytes });
      }
      return timerRead(offset);
    };

    /** The host's end of the Pico's USB port, a CDC ACM serial port, and what came through it. */
    this.usbSerial = new USBCDC(rp2040.usbCtrl);
    /** @type {number[]} */
    this.usbReceived = [];
    this.usbSerial.onSerialData = (buffer) => this.usbReceived.push(...buffer);

    const rtt = this.elf.symbols.get('_SEGGER_RTT');
    if (!rtt) throw new Error(`${elfName}: no _SEGGER_RTT symbol: the firmware does not log over RTT (defmt-rtt)`);
    this.rtt = new RttReader(rp2040, rtt.address);
    /** The flash routines of the boot ROM, and what the firmware wrote with them. */
    this.rom = new BootRom(rp2040, { worn: options.wornFlash });
    if (options.flashBefore) rp2040.flash.set(options.flashBefore);
    const flash = options.flash ?? { name: elfName, segments: this.elf.segments };
    bootFromFlash(rp2040, flash.segments, flash.name);
    this.instructions = 0;
  }

  get nowNs() {
    return this.rp2040.clock.nanos;
  }

  get backlightOn() {
    return !lineLow(this.rp2040.gpio[PINS.backlight]);
  }

  updatePenIrq() {
    this.rp2040.gpio[PINS.touchPenIrq].setInputValue(!this.touch.penIrqLow);
  }

  /**
   * Puts a finger on the panel (or lifts it) now.
   *
   * @param {import('./xpt2046.js').Finger | null} finger
   */
  setFinger(finger) {
    this.touch.touch(finger);
    this.updatePenIrq();
  }

  /**
   * Calls `callback` at emulated time `ns`.
   *
   * @param {number} ns
   * @param {() => void} callback
   */
  at(ns, callback) {
    this.rp2040.clock.createAlarm(callback).schedule(Math.max(0, ns - this.nowNs));
  }

  /**
   * Runs the core until `done()` holds (checked every few microseconds of emulated time) or
   * emulated time reaches `deadlineNs`. Throws with what it last saw when the firmware stops
   * making progress.
   *
   * @param {object} wait
   * @param {() => boolean} wait.done
   * @param {number} wait.deadlineNs
   * @param {string} wait.what What the caller waits for, for the error message.
   */
  runUntil({ done, deadlineNs, what }) {
    const { rp2040 } = this;
    const { core } = rp2040;
    // The RP2040's default clock is a SimulationClock; its typings only promise IClock.
    const clock = /** @type {SimulationClock} */ (/** @type {unknown} */ (rp2040.clock));
    let cycleNs = 1e9 / rp2040.clkSys;
    let instructions = 0;
    while (true) {
      if (core.waiting) {
        if (!clock.nextAlarm) this.fatal ??= 'the core sleeps (WFE/WFI) with no timer or event that could wake it';
        else clock.tick(clock.nanosToNextAlarm);
      } else {
        const pc = core.PC;
        clock.tick(core.executeInstruction() * cycleNs);
        instructions++;
        this.sampler?.tick(core.cycles, pc);
        if (core.PC < ROM_END) {
          try {
            clock.tick(this.rom.call(core.PC));
          } catch (e) {
            this.fatal ??= e instanceof Error ? e.message : String(e);
          }
        }
      }
      if ((instructions & 0x3ff) === 0 || core.waiting || this.fatal !== null) {
        if ((instructions & (RTT_DRAIN_EVERY - 1)) === 0) this.rtt.drain();
        cycleNs = 1e9 / rp2040.clkSys;
        if (this.fatal) break;
        if (done()) {
          this.instructions += instructions;
          this.rtt.drain();
          return;
        }
        if (clock.nanos >= deadlineNs) {
          this.instructions += instructions;
          this.rtt.drain();
          throw new Error(`timed out waiting for ${what}: ${this.describe()}`);
        }
      }
    }
    this.instructions += instructions;
    this.rtt.drain();
    throw new Error(`${this.fatal}: ${this.describe()}`);
  }

  /** What the board last saw: for messages when something goes wrong. */
  describe() {
    const { core } = this.rp2040;
    const last = this.lcd.lastCommand;
    const parts = [
      `emulated time ${(this.nowNs / 1e6).toFixed(3)} ms`,
      `PC ${hex(core.PC)}${core.waiting ? ' (sleeping)' : ''}`,
      `last display command ${last ? `${last.name} at ${(last.atNs / 1e6).toFixed(3)} ms` : 'none'}`,
      `SPI bytes ${[...this.bus.bytes].map(([name, n]) => `${name} ${n}`).join(', ')}`,
    ];

    return parts.join('; ');
  }
}

/** @param {number} value */
export function hex(value) {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}
