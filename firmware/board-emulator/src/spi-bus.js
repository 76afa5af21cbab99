// @ts-check
/**
 * @file A shared SPI bus between the RP2040's PL022 controller and the parts whose chip
 * selects hang on it. Each byte takes its time at the configured clock (8 bits / SCK, through
 * the emulator's clock alarms), reaches every selected part, and comes back as the OR of what
 * the selected parts drive on MISO. The bus checks what a logic analyser would show a designer:
 * a part clocked faster than it allows or in a mode it does not sample, a chip select moving in
 * the middle of a byte, two parts driving MISO at once, SPI pins not routed to the controller.
 */

/**
 * @typedef {object} BusDevice
 * @property {string} name
 * @property {() => boolean} selected Whether its chip select line is low now.
 * @property {number} maxHz
 * @property {(byte: number, nowNs: number) => number | null} transfer Takes a byte, returns
 *   what the part drove on MISO during it (`null`: nothing).
 *
 * @typedef {object} SpiController The PL022 as rp2040js models it.
 * @property {(value: number) => void} onTransmit
 * @property {(rx: number) => void} completeTransmit
 * @property {number} clockFrequency
 * @property {number} control0 SSPCR0: SPO (bit 6) is CPOL, SPH (bit 7) is CPHA.
 * @property {number} dataBits
 *
 * @typedef {object} Clock
 * @property {number} nanos
 * @property {(callback: () => void) => { schedule(ns: number): void }} createAlarm
 */

export class SpiBus {
  /**
   * @param {object} wiring
   * @param {SpiController} wiring.controller
   * @param {Clock} wiring.clock
   * @param {BusDevice[]} wiring.devices
   * @param {() => string | null} wiring.unrouted Says which bus pin is not connected to the
   *   controller now, if any.
   */
  constructor({ controller, clock, devices, unrouted }) {
    this.controller = controller;
    this.clock = clock;
    this.devices = devices;
    this.unrouted = unrouted;
    /** Bytes each part received. */
    /** @type {Map<string, number>} */
    this.bytes = new Map(devices.map((d) => [d.name, 0]));
    /** When each part last received a byte. */
    /** @type {Map<string, number>} */
    this.lastByteNs = new Map();
    /** @type {{ atNs: number, message: string }[]} */
    this.faults = [];
    this.faultCount = 0;
    /** @type {Set<string>} */
    this.faultKinds = new Set();
    this.pending = { value: 0, selected: /** @type {BusDevice[]} */ ([]) };
    this.alarm = clock.createAlarm(() => this.finish());
    controller.onTransmit = (value) => this.start(value);
  }

  /**
   * Records a fault; repeats of one kind are counted but logged once.
   *
   * @param {string} kind
   * @param {string} message
   */
  fault(kind, message) {
    this.faultCount++;
    if (this.faultKinds.has(kind)) return;
    this.faultKinds.add(kind);
    this.faults.push({ atNs: this.clock.nanos, message });
  }

  /** @param {number} value */
  start(value) {
    const { controller } = this;
    const selected = this.devices.filter((d) => d.selected());
    const unrouted = this.unrouted();
    if (unrouted) this.fault(`unrouted ${unrouted}`, `${unrouted} is not routed to the SPI controller: bytes go nowhere`);
    if (controller.dataBits !== 8) this.fault('frame size', `${controller.dataBits}-bit SPI frames (the parts take bytes)`);
    // SPI mode from SSPCR0 itself: rp2040js 1.4.1's `spiMode` swaps modes 2 and 3.
    const mode = ((controller.control0 >> 6) & 1) * 2 + ((controller.control0 >> 7) & 1);
    for (const device of selected) {
      if (controller.clockFrequency > device.maxHz) {
        this.fault(
          `${device.name} clock`,
          `${device.name} clocked at ${(controller.clockFrequency / 1e6).toFixed(2)} MHz (it allows ${device.maxHz / 1e6} MHz)`,
        );
      }
      // Both parts sample on SCK's rising edge: modes 0 and 3.
      if (mode === 1 || mode === 2) {
        this.fault(`${device.name} mode`, `${device.name} addressed in SPI mode ${mode} (it samples in modes 0 and 3)`);
      }
    }
    if (selected.length > 1) {
      this.fault(`select ${selected.map((d) => d.name)}`, `${selected.map((d) => d.name).join(' and ')} selected at once`);
    }
    this.pending = { value, selected };
    const nanos = controller.clockFrequency > 0 ? (controller.dataBits * 1e9) / controller.clockFrequency : 0;
    this.alarm.schedule(nanos);
  }

  finish() {
    const { value, selected } = this.pending;
    const now = this.clock.nanos;
    const still = this.devices.filter((d) => d.selected());
    for (const device of this.devices) {
      if (selected.includes(device) !== still.includes(device)) {
        this.fault(`${device.name} select mid-byte`, `${device.name}'s chip select changed in the middle of a byte`);
      }
    }
    const routed = this.unrouted() === null;
    /** @type {{ name: string, value: number }[]} */
    const drivers = [];
    for (const device of selected.filter((d) => still.includes(d))) {
      this.bytes.set(device.name, (this.bytes.get(device.name) ?? 0) + 1);
      this.lastByteNs.set(device.name, now);
      if (!routed) continue;
      const out = device.transfer(value, now);
      if (out !== null) drivers.push({ name: device.name, value: out });
    }
    if (drivers.length > 1) {
      const names = drivers.map((d) => d.name).join(' and ');
      this.fault(`contention ${names}`, `${names} drive MISO at the same time`);
    }
    this.controller.completeTransmit(drivers.reduce((miso, d) => miso | d.value, 0));
  }
}
