// @ts-check
/**
 * @file The XPT2046 resistive touch controller and the panel it reads, as the SPI bus sees
 * them: a control byte starts a conversion, whose 12 (or 8) bits come back in the next two
 * bytes after one busy clock. A scripted finger sets the position (in screen pixels) and
 * pressure; the panel turns it into raw readings, and PENIRQ goes low while it touches.
 *
 * Between conversions whose control byte keeps the pen interrupt on (PD0 = 0), the controller
 * waits in pen-detect mode: one plate grounded, the other pulled up, nothing driven. A conversion
 * that starts from there samples the plates before they settle and reads low (the `settling`
 * option: the share of the value lost), which is why drivers discard a reading's first
 * conversion and keep the drive on (PD0 = 1) until its last.
 *
 * Conversions are byte-aligned (the 24-clock cycle of the datasheet, the one drivers use); the
 * 15- and 16-clock overlapped cycles are not modelled.
 */

/** Input channels (control byte bits A2..A0) in differential mode. */
export const CHANNEL = Object.freeze({ Y: 0b001, Z1: 0b011, Z2: 0b100, X: 0b101 });
/** @type {Map<number, keyof typeof CHANNEL>} */
const CHANNEL_NAMES = new Map(Object.entries(CHANNEL).map(([name, code]) => [code, /** @type {keyof typeof CHANNEL} */ (name)]));

/** The XPT2046's fastest SPI clock at 2.7 V (datasheet: tCH + tCL >= 400 ns). */
export const MAX_SPI_HZ = 2_500_000;

/**
 * How finger positions on the screen map to the controller's raw 12-bit axes, and the plates'
 * resistances that set the pressure readings.
 *
 * @typedef {object} Panel
 * @property {{ left: number, right: number }} yAxis Raw Y at the screen's left and right edges
 *   (the controller's Y axis runs along the screen's x).
 * @property {{ top: number, bottom: number }} xAxis Raw X at the screen's top and bottom edges.
 * @property {number} width Screen width in pixels.
 * @property {number} height Screen height in pixels.
 * @property {number} xPlateOhms
 * @property {number} yPlateOhms
 */

/**
 * The Pico-ResTouch-LCD-2.8's panel in landscape, at the nominal ranges the firmware's default
 * calibration (`app::touch::Calibration::PICO_RESTOUCH_2_8`) assumes; a change to either shows
 * as strokes landing off target. Plate resistances are typical of 2.8" panels.
 *
 * @type {Panel}
 */
export const RESTOUCH_2_8 = Object.freeze({
  yAxis: { left: 3880, right: 340 },
  xAxis: { top: 262, bottom: 3850 },
  width: 320,
  height: 240,
  xPlateOhms: 400,
  yPlateOhms: 300,
});

/**
 * A finger on the panel.
 *
 * @typedef {object} Finger
 * @property {number} x Screen pixel.
 * @property {number} y Screen pixel.
 * @property {number} [contactOhms] Resistance between the plates where it presses: ~500 for a
 *   firm finger, several thousand for a light one.
 */

/** A small seeded generator (mulberry32), so noise is the same in every run. */
export function random(seed = 1) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Xpt2046 {
  /**
   * @param {{ panel?: Panel, noise?: number, spikeRate?: number, settling?: number, seed?: number }} [options]
   *   `noise`: each conversion is off by up to this many raw units; `spikeRate`: the share of
   *   conversions that are off by ~300 (a panel's contact bounce); `settling`: the share of its
   *   value a conversion started from pen-detect loses (0: the plates settle at once).
   */
  constructor(options = {}) {
    this.panel = options.panel ?? RESTOUCH_2_8;
    this.noise = options.noise ?? 0;
    this.spikeRate = options.spikeRate ?? 0;
    this.settling = options.settling ?? 0;
    this.random = random(options.seed);
    /** @type {Finger | null} */
    this.finger = null;
    /** Power-down bits of the last control byte: PD0 = 0 keeps PENIRQ enabled. */
    this.powerDown = 0b00;
    /** @type {number[]} */
    this.output = [];
    /** Conversions per channel name. */
    /** @type {Map<string, number>} */
    this.conversions = new Map();
    /** @type {string[]} */
    this.faults = [];
  }

  /** @param {Finger | null} finger */
  touch(finger) {
    this.finger = finger;
  }

  /** PENIRQ: low while a finger touches and the controller has the pen interrupt enabled. */
  get penIrqLow() {
    return this.finger !== null && (this.powerDown & 0b01) === 0;
  }

  /**
   * The raw reading of the finger on `axis` without noise (what a perfect conversion gives).
   *
   * @param {Finger} finger
   * @returns {{ x: number, y: number, z1: number, z2: number }}
   */
  ideal(finger) {
    const { xAxis, yAxis, width, height, xPlateOhms, yPlateOhms } = this.panel;
    const x = xAxis.top + (finger.y * (xAxis.bottom - xAxis.top)) / height;
    const y = yAxis.left + (finger.x * (yAxis.right - yAxis.left)) / width;
    // Z1 and Z2 drive Y+ and ground X-: the current runs through the Y plate to the contact,
    // then the X plate; Z1 reads the X plate there, Z2 the Y plate (datasheet, pressure).
    const contact = finger.contactOhms ?? 500;
    const xPart = (x / 4096) * xPlateOhms;
    const yPart = (1 - y / 4096) * yPlateOhms;
    const total = xPart + contact + yPart;
    return { x, y, z1: (4095 * xPart) / total, z2: (4095 * (xPart + contact)) / total };
  }

  /**
   * One conversion of `channel`, 12 bits; `unsettled` when it starts from pen-detect.
   *
   * @param {number} channel
   * @param {boolean} [unsettled]
   */
  convert(channel, unsettled = false) {
    const name = CHANNEL_NAMES.get(channel);
    if (!name) {
      this.faults.push(`conversion of channel ${channel.toString(2).padStart(3, '0')} (not a touch axis)`);
      return 0;
    }
    this.conversions.set(name, (this.conversions.get(name) ?? 0) + 1);
    const finger = this.finger;
    if (!finger) return channel === CHANNEL.Z2 ? 4095 : 0;
    const ideal = this.ideal(finger);
    const settled = { X: ideal.x, Y: ideal.y, Z1: ideal.z1, Z2: ideal.z2 }[name];
    const value = unsettled ? settled * (1 - this.settling) : settled;
    let error = Math.round((this.random() * 2 - 1) * this.noise);
    if (this.random() < this.spikeRate) error += this.random() < 0.5 ? -300 : 300;
    return Math.min(4095, Math.max(0, Math.round(value) + error));
  }

  /**
   * One byte while the controller is selected; returns what it shifts out on DOUT meanwhile.
   *
   * @param {number} byte
   * @returns {number}
   */
  transfer(byte) {
    const out = this.output.shift() ?? 0;
    if (byte & 0x80) {
      const channel = (byte >> 4) & 0b111;
      const eightBit = (byte & 0x08) !== 0;
      if (byte & 0x04) this.faults.push(`single-ended conversion 0x${byte.toString(16)} (drivers read position differentially)`);
      // The previous control byte decides where this conversion starts from.
      const unsettled = (this.powerDown & 0b01) === 0;
      this.powerDown = byte & 0b11;
      const value = this.convert(channel, unsettled);
      // One busy clock, then the result MSB first, then zeros.
      const frame = eightBit ? (value >> 4) << 7 : value << 3;
      this.output = [frame >> 8, frame & 0xff];
    }
    return out;
  }

  /** Chip select rose: a conversion's result not yet read is lost. */
  deselect() {
    this.output = [];
  }
}
