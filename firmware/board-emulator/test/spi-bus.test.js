// @ts-check
// The shared bus: bytes take their time at SCK, reach the selected parts, and what a logic
// analyser would flag (contention, a part clocked too fast, unrouted pins) is a fault.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SdCard } from '../src/sd-card.js';
import { SpiBus } from '../src/spi-bus.js';
import { CHANNEL, Xpt2046 } from '../src/xpt2046.js';

/** A PL022 stand-in, a clock with one alarm, and a touch controller and an SD card on the bus. */
function rig({ sdSelected = false, hz = 2e6, routed = true } = {}) {
  const received = /** @type {number[]} */ ([]);
  const clock = {
    nanos: 0,
    /** @type {{ callback: () => void, at: number } | null} */
    pending: null,
    createAlarm(/** @type {() => void} */ callback) {
      return { schedule: (/** @type {number} */ ns) => (clock.pending = { callback, at: clock.nanos + ns }) };
    },
  };
  const controller = {
    onTransmit: (/** @type {number} */ _value) => {},
    completeTransmit: (/** @type {number} */ rx) => received.push(rx),
    clockFrequency: hz,
    control0: 0b11 << 6, // CPOL = CPHA = 1: mode 3
    dataBits: 8,
  };
  const touch = new Xpt2046();
  touch.touch({ x: 160, y: 120 });
  const sd = new SdCard();
  const bus = new SpiBus({
    controller,
    clock,
    devices: [
      { name: 'XPT2046', selected: () => true, maxHz: 2.5e6, transfer: (b) => touch.transfer(b) },
      { name: 'SD card', selected: () => sdSelected, maxHz: 25e6, transfer: (b) => sd.transfer(b) },
    ],
    unrouted: () => (routed ? null : 'MISO (GPIO 12)'),
  });
  /** Sends bytes, letting each take its time; returns MISO. */
  const send = (/** @type {number[]} */ bytes) => {
    for (const byte of bytes) {
      controller.onTransmit(byte);
      const alarm = /** @type {{ callback: () => void, at: number }} */ (clock.pending);
      clock.nanos = alarm.at;
      alarm.callback();
    }
    return received.splice(0);
  };
  return { bus, send, clock, sd };
}

test('a byte takes 8 clocks at SCK and a conversion comes back on MISO', () => {
  const { bus, send, clock } = rig();
  const [, high, low] = send([0x80 | (CHANNEL.X << 4), 0, 0]);
  assert.equal(clock.nanos, 3 * 4000);
  assert.equal((((high << 8) | low) >> 3) & 0xfff, 2056);
  assert.equal(bus.bytes.get('XPT2046'), 3);
  assert.deepEqual(bus.faults, []);
});

test('an SD card whose chip select floats low corrupts touch readings on MISO', () => {
  const { bus, send, sd } = rig({ sdSelected: true });
  const [, high, low] = send([0x80 | (CHANNEL.X << 4), 0, 0]);
  assert.equal((((high << 8) | low) >> 3) & 0xfff, 4095);
  assert.ok(sd.bytesSeen > 0);
  assert.ok(bus.faults.some((f) => f.message === 'XPT2046 and SD card drive MISO at the same time'));
});

test('a part clocked past its limit and pins not routed to the controller are faults', () => {
  const fast = rig({ hz: 31.25e6 });
  fast.send([0]);
  assert.ok(fast.bus.faults.some((f) => f.message.includes('XPT2046 clocked at 31.25 MHz')));
  const unrouted = rig({ routed: false });
  assert.deepEqual(unrouted.send([0x80 | (CHANNEL.X << 4), 0, 0]), [0, 0, 0]);
  assert.ok(unrouted.bus.faults.some((f) => f.message.includes('MISO (GPIO 12) is not routed')));
});
