// @ts-check
/**
 * @file The ST7789 display controller of the Pico-ResTouch-LCD-2.8, as its 4-line SPI bus sees
 * it: bytes with the D/C line low are commands, with it high their parameters or pixels. The
 * model keeps the controller's 240x320 frame memory, decodes the command set a driver needs
 * (reset, sleep, display on/off, inversion, MADCTL addressing, COLMOD, address window, memory
 * write), checks the datasheet's timing rules, and shows the memory the way the panel is
 * mounted on the board: landscape, 320x240.
 *
 * Anything it does not model, or a write that the controller would take differently from what
 * a driver means (an unknown command, pixels past the address window, a command too soon after
 * reset), is a fault: counted, logged with the time, and fatal to the board test.
 *
 * Assumptions about this board that cannot be checked without one (docs/firmware.md, "Board emulator"):
 * the panel is mounted so that MADCTL MV|MX (mipidsi's `Rotation::Deg90`) reads upright in
 * landscape; its sub-pixels are in RGB order (MADCTL's BGR bit off); it is an IPS panel that
 * shows colours true with inversion on (INVON), as board setups for it do (TFT_eSPI's
 * `TFT_INVERSION_ON` for this board).
 */

/** The controller's frame memory: 240 source lines (columns) by 320 gate lines (rows). */
export const MEMORY = Object.freeze({ columns: 240, rows: 320 });
/** The panel as mounted on the board, seen by its user. */
export const VIEW = Object.freeze({ width: 320, height: 240 });

/** MADCTL bits (datasheet 9.1.28). */
export const MADCTL = Object.freeze({ MY: 0x80, MX: 0x40, MV: 0x20, ML: 0x10, BGR: 0x08, MH: 0x04 });

/** Timing rules, in nanoseconds (datasheet: reset timing and the SLPOUT/SLPIN restrictions). */
const RESET_PULSE_MIN = 10e3;
const COMMANDS_AFTER_RESET = 5e6;
const SLEEP_OUT_AFTER_RESET = 120e6;
const COMMANDS_AFTER_SLEEP_OUT = 5e6;
const SLEEP_IN_AFTER_SLEEP_OUT = 120e6;

/**
 * What the controller remembers besides its frame memory; reset by RESX and SWRESET.
 *
 * @typedef {object} Registers
 * @property {boolean} sleeping
 * @property {boolean} displayOn
 * @property {boolean} inverted
 * @property {number} madctl
 * @property {number} colmod
 * @property {{ start: number, end: number }} columns CASET: the MCU's column address range.
 * @property {{ start: number, end: number }} rows RASET: the MCU's row address range.
 */

/** @returns {Registers} */
function resetRegisters() {
  return {
    sleeping: true,
    displayOn: false,
    inverted: false,
    madctl: 0,
    colmod: 0x66,
    columns: { start: 0, end: MEMORY.columns - 1 },
    rows: { start: 0, end: MEMORY.rows - 1 },
  };
}

/**
 * A command: its name, how many parameter bytes it takes (`Infinity`: a data stream), and what
 * it does once its parameters are in (or, for streams, with each byte).
 *
 * @typedef {object} CommandSpec
 * @property {string} name
 * @property {number} params
 * @property {(display: St7789, params: number[], nowNs: number) => void} [apply]
 * @property {(display: St7789, byte: number) => void} [stream]
 * @property {number[]} [reply] Bytes a read command shifts out (after its dummy byte).
 */

const COMMANDS = new Map(
  /** @type {[number, CommandSpec][]} */ ([
  [0x00, { name: 'NOP', params: 0 }],
  [0x01, { name: 'SWRESET', params: 0, apply: (d, _, now) => d.softwareReset(now) }],
  [0x04, { name: 'RDDID', params: 0, reply: [0x85, 0x85, 0x52] }],
  [0x10, { name: 'SLPIN', params: 0, apply: (d, _, now) => d.sleepIn(now) }],
  [0x11, { name: 'SLPOUT', params: 0, apply: (d, _, now) => d.sleepOut(now) }],
  [0x13, { name: 'NORON', params: 0 }],
  [0x20, { name: 'INVOFF', params: 0, apply: (d) => (d.registers.inverted = false) }],
  [0x21, { name: 'INVON', params: 0, apply: (d) => (d.registers.inverted = true) }],
  [0x28, { name: 'DISPOFF', params: 0, apply: (d) => (d.registers.displayOn = false) }],
  [0x29, { name: 'DISPON', params: 0, apply: (d, _, now) => d.displayOn(now) }],
  [0x2a, { name: 'CASET', params: 4, apply: (d, p) => d.setRange('columns', p) }],
  [0x2b, { name: 'RASET', params: 4, apply: (d, p) => d.setRange('rows', p) }],
  [0x2c, { name: 'RAMWR', params: Infinity, apply: (d) => d.startWrite(true), stream: (d, b) => d.pixelByte(b) }],
  [0x36, { name: 'MADCTL', params: 1, apply: (d, p) => (d.registers.madctl = p[0]) }],
  [0x3a, { name: 'COLMOD', params: 1, apply: (d, p) => d.setColmod(p[0]) }],
  [0x3c, { name: 'RAMWRC', params: Infinity, apply: (d) => d.startWrite(false), stream: (d, b) => d.pixelByte(b) }],
  ]),
);

/** Bytes per pixel for the COLMOD interface formats the model takes (16 and 18 bits). */
const BYTES_PER_PIXEL = new Map([
  [0x05, 2],
  [0x55, 2],
  [0x06, 3],
  [0x66, 3],
]);

/**
 * @typedef {object} Fault
 * @property {number} atNs
 * @property {string} message
 */

export class St7789 {
  /**
   * @param {{ seed?: number }} [options] `seed` fills the frame memory with power-on noise (a
   *   real panel's memory is undefined until written).
   */
  constructor(options = {}) {
    /** The frame memory, RGB565 as the panel's sub-pixels receive it, row-major 240 x 320. */
    this.memory = new Uint16Array(MEMORY.columns * MEMORY.rows);
    let state = options.seed ?? 1;
    for (let i = 0; i < this.memory.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      this.memory[i] = state >>> 16;
    }
    /** Which memory cells were written since the last reset. */
    this.written = new Uint8Array(this.memory.length);
    this.writtenCount = 0;
    this.registers = resetRegisters();
    /** @type {Fault[]} */
    this.faults = [];
    this.faultCount = 0;
    /** @type {{ name: string, atNs: number } | null} */
    this.lastCommand = null;
    /** Time the first full frame was complete (every cell written since reset), if any. */
    /** @type {number | null} */
    this.fullFrameAtNs = null;
    this.pixelsWritten = 0;
    this.inReset = false;
    this.resetStartNs = 0;
    this.resetAtNs = 0;
    this.sleepOutAtNs = -Infinity;
    /** Hardware and software resets since power-up. */
    this.resets = 0;
    /** Bytes that came before the first reset: sent to a panel the firmware had not set up. */
    this.bytesBeforeReset = 0;
    /** Pixel bytes written while the panel slept or was off: drawn before its init finished. */
    this.pixelBytesBeforeInit = 0;
    /** When DISPON last ended an init (the panel awake), if ever. */
    /** @type {number | null} */
    this.displayOnAtNs = null;
    /** @type {{ code: number, spec: CommandSpec, params: number[] } | null} */
    this.current = null;
    this.pixel = { column: 0, row: 0, bytes: /** @type {number[]} */ ([]) };
    this.replyIndex = 0;
  }

  /**
   * @param {number} atNs
   * @param {string} message
   */
  fault(atNs, message) {
    this.faultCount++;
    if (this.faults.length < 20) this.faults.push({ atNs, message });
  }

  /**
   * The RESX line: low holds the controller in reset; its rising edge resets the registers.
   *
   * @param {boolean} low
   * @param {number} nowNs
   */
  setResetLine(low, nowNs) {
    if (low && !this.inReset) {
      this.inReset = true;
      this.resetStartNs = nowNs;
    } else if (!low && this.inReset) {
      this.inReset = false;
      const pulse = nowNs - this.resetStartNs;
      if (pulse < RESET_PULSE_MIN) {
        this.fault(nowNs, `reset pulse of ${(pulse / 1e3).toFixed(1)} us (the ST7789 needs 10 us)`);
      }
      this.reset(nowNs);
    }
  }

  /** @param {number} nowNs */
  reset(nowNs) {
    this.registers = resetRegisters();
    this.written.fill(0);
    this.writtenCount = 0;
    this.resetAtNs = nowNs;
    this.sleepOutAtNs = -Infinity;
    this.resets++;
    this.current = null;
  }

  /** @param {number} nowNs */
  softwareReset(nowNs) {
    this.reset(nowNs);
  }

  /** @param {number} nowNs */
  sleepOut(nowNs) {
    if (nowNs - this.resetAtNs < SLEEP_OUT_AFTER_RESET) {
      this.fault(nowNs, `SLPOUT ${((nowNs - this.resetAtNs) / 1e6).toFixed(1)} ms after reset (the ST7789 needs 120 ms)`);
    }
    this.registers.sleeping = false;
    this.sleepOutAtNs = nowNs;
  }

  /** @param {number} nowNs */
  displayOn(nowNs) {
    this.registers.displayOn = true;
    if (!this.registers.sleeping) this.displayOnAtNs = nowNs;
  }

  /** @param {number} nowNs */
  sleepIn(nowNs) {
    if (nowNs - this.sleepOutAtNs < SLEEP_IN_AFTER_SLEEP_OUT) {
      this.fault(nowNs, 'SLPIN less than 120 ms after SLPOUT');
    }
    this.registers.sleeping = true;
  }

  /** @param {number} value */
  setColmod(value) {
    if (!BYTES_PER_PIXEL.has(value)) {
      this.fault(this.lastCommand?.atNs ?? 0, `COLMOD 0x${value.toString(16)}: only 16- and 18-bit pixels are modelled`);
    }
    this.registers.colmod = value;
  }

  /**
   * @param {'columns' | 'rows'} which
   * @param {number[]} params
   */
  setRange(which, params) {
    const start = (params[0] << 8) | params[1];
    const end = (params[2] << 8) | params[3];
    const exchanged = (this.registers.madctl & MADCTL.MV) !== 0;
    const limit = (which === 'columns') !== exchanged ? MEMORY.columns : MEMORY.rows;
    const name = which === 'columns' ? 'CASET' : 'RASET';
    if (start > end || end >= limit) {
      this.fault(this.lastCommand?.atNs ?? 0, `${name} ${start}..${end} outside 0..${limit - 1}`);
    }
    this.registers[which] = { start, end };
  }

  /** @param {boolean} fromStart RAMWR starts at the window's corner, RAMWRC continues. */
  startWrite(fromStart) {
    if (fromStart) {
      this.pixel.column = this.registers.columns.start;
      this.pixel.row = this.registers.rows.start;
    }
    this.pixel.bytes = [];
  }

  /** @param {number} byte */
  pixelByte(byte) {
    if (this.registers.sleeping || !this.registers.displayOn) this.pixelBytesBeforeInit++;
    const size = BYTES_PER_PIXEL.get(this.registers.colmod) ?? 2;
    this.pixel.bytes.push(byte);
    if (this.pixel.bytes.length < size) return;
    const b = this.pixel.bytes;
    // 18-bit pixels carry 6 bits per colour in each byte's top bits; keep RGB565's precision.
    let value = size === 2 ? (b[0] << 8) | b[1] : ((b[0] >> 3) << 11) | ((b[1] >> 2) << 5) | (b[2] >> 3);
    this.pixel.bytes = [];
    if (this.registers.madctl & MADCTL.BGR) {
      value = ((value & 0x1f) << 11) | (value & 0x07e0) | (value >> 11);
    }
    const { columns, rows } = this.registers;
    if (this.pixel.row > rows.end) {
      // The controller wraps to the window's start; a driver that relies on it is rare, one
      // that sends too many pixels common: count it.
      this.pixel.row = rows.start;
      this.fault(this.lastCommand?.atNs ?? 0, 'pixels written past the end of the address window');
    }
    const index = this.memoryIndex(this.pixel.column, this.pixel.row);
    if (index === null) {
      this.fault(this.lastCommand?.atNs ?? 0, `pixel at (${this.pixel.column}, ${this.pixel.row}) outside the frame memory`);
    } else {
      this.memory[index] = value;
      if (!this.written[index]) {
        this.written[index] = 1;
        this.writtenCount++;
      }
    }
    this.pixelsWritten++;
    if (++this.pixel.column > columns.end) {
      this.pixel.column = columns.start;
      this.pixel.row++;
    }
  }

  /**
   * Where the MCU's (column, row) address lands in the frame memory under MADCTL: MV exchanges
   * the two counters, then MX and MY mirror the memory's columns and rows.
   *
   * @param {number} column
   * @param {number} row
   * @returns {number | null}
   */
  memoryIndex(column, row) {
    const { madctl } = this.registers;
    let [x, y] = madctl & MADCTL.MV ? [row, column] : [column, row];
    if (madctl & MADCTL.MX) x = MEMORY.columns - 1 - x;
    if (madctl & MADCTL.MY) y = MEMORY.rows - 1 - y;
    if (x < 0 || y < 0 || x >= MEMORY.columns || y >= MEMORY.rows) return null;
    return y * MEMORY.columns + x;
  }

  /**
   * One byte on the bus while the controller is selected; returns what it drives on MISO
   * (`null`: nothing, its output is off).
   *
   * @param {number} byte
   * @param {boolean} isData D/C high.
   * @param {number} nowNs
   * @returns {number | null}
   */
  transfer(byte, isData, nowNs) {
    if (this.resets === 0) this.bytesBeforeReset++;
    if (this.inReset) {
      this.fault(nowNs, 'bytes sent while RESX holds the controller in reset');
      return null;
    }
    if (!isData) {
      this.command(byte, nowNs);
      return null;
    }
    const current = this.current;
    if (!current) {
      this.fault(nowNs, `parameter 0x${byte.toString(16)} with no command to take it`);
      return null;
    }
    if (current.spec.reply) {
      // A read: the first clocked byte is the dummy cycle, then the reply.
      const reply = current.spec.reply[this.replyIndex++ - 1];
      return reply ?? 0;
    }
    if (current.spec.stream) {
      current.spec.stream(this, byte);
      return null;
    }
    current.params.push(byte);
    if (current.params.length === current.spec.params) {
      current.spec.apply?.(this, current.params, nowNs);
      this.current = null;
    } else if (current.params.length > current.spec.params) {
      this.fault(nowNs, `too many parameters for ${current.spec.name}`);
    }
    return null;
  }

  /**
   * @param {number} code
   * @param {number} nowNs
   */
  command(code, nowNs) {
    this.endCommand(nowNs);
    const spec = COMMANDS.get(code);
    if (!spec) {
      this.fault(nowNs, `unknown command 0x${code.toString(16).padStart(2, '0')}`);
      this.lastCommand = { name: `0x${code.toString(16)}`, atNs: nowNs };
      return;
    }
    if (nowNs - this.resetAtNs < COMMANDS_AFTER_RESET) {
      this.fault(nowNs, `${spec.name} ${((nowNs - this.resetAtNs) / 1e6).toFixed(2)} ms after reset (the ST7789 needs 5 ms)`);
    }
    if (nowNs - this.sleepOutAtNs < COMMANDS_AFTER_SLEEP_OUT) {
      this.fault(nowNs, `${spec.name} ${((nowNs - this.sleepOutAtNs) / 1e6).toFixed(2)} ms after SLPOUT (the ST7789 needs 5 ms)`);
    }
    this.lastCommand = { name: spec.name, atNs: nowNs };
    this.current = { code, spec, params: [] };
    this.replyIndex = 0;
    if (spec.params === 0 && !spec.reply) {
      spec.apply?.(this, [], nowNs);
      this.current = null;
    } else if (spec.params === Infinity) {
      spec.apply?.(this, [], nowNs);
    }
  }

  /**
   * A command ends at the next command or when chip select rises; one still missing
   * parameters then is a fault.
   *
   * @param {number} nowNs
   */
  endCommand(nowNs) {
    const current = this.current;
    if (current && current.spec.params !== Infinity && !current.spec.reply) {
      this.fault(nowNs, `${current.spec.name} ended with ${current.params.length} of ${current.spec.params} parameters`);
    }
    this.current = null;
  }

  /**
   * Chip select rose: the controller stops listening. (A parameter list or pixel stream may
   * continue in the next selection, as drivers that toggle CS per transfer rely on.)
   */
  deselect() {}

  /** Whether every cell of the frame memory was written since the last reset. */
  get fullFrameWritten() {
    return this.writtenCount === this.memory.length;
  }

  /**
   * What the panel shows, as its user sees it in landscape: black while asleep or off;
   * otherwise the memory, inverted unless INVON (an IPS panel shows true colours inverted).
   *
   * @returns {Uint16Array} 320 x 240 RGB565, row-major.
   */
  view() {
    const out = new Uint16Array(VIEW.width * VIEW.height);
    const { sleeping, displayOn, inverted } = this.registers;
    if (sleeping || !displayOn) return out;
    const mask = inverted ? 0 : 0xffff;
    for (let y = 0; y < VIEW.height; y++) {
      for (let x = 0; x < VIEW.width; x++) {
        out[y * VIEW.width + x] = this.memory[viewToMemory(x, y)] ^ mask;
      }
    }
    return out;
  }
}

/**
 * The frame memory cell behind a landscape view pixel: the board mounts the panel turned a
 * quarter counter-clockwise, memory column 239 at the top.
 *
 * @param {number} x
 * @param {number} y
 */
export function viewToMemory(x, y) {
  return x * MEMORY.columns + (MEMORY.columns - 1 - y);
}
