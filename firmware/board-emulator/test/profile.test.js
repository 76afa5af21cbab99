// @ts-check
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Profile, Sampler, demangle } from '../src/profile.js';

test('Rust symbols read as paths, without the hash, escapes decoded', () => {
  assert.equal(
    demangle('_ZN13runtime_nostd7kernels9conv2d_i817h3d29e93835908927E'),
    'runtime_nostd::kernels::conv2d_i8',
  );
  assert.equal(
    demangle('_ZN4core3ptr42drop_in_place$LT$app..session..Session$GT$17h0123456789abcdefE'),
    'core::ptr::drop_in_place<app::session::Session>',
  );
  assert.equal(demangle('__aeabi_lmul'), '__aeabi_lmul');
  // Not the mangling's grammar: left as it is.
  assert.equal(demangle('_ZNxE'), '_ZNxE');
});

test('samples are taken every so many cycles on average, at varied gaps, only while on', () => {
  const sampler = new Sampler(10);
  sampler.tick(5, 0x100);
  assert.deepEqual(sampler.samples, []);
  sampler.on = true;
  for (let cycles = 0; cycles < 100_000; cycles++) sampler.tick(cycles, 0x200 + (cycles % 7) * 2);
  /** @type {number[]} */
  const times = sampler.samples.filter((_, i) => i % 2 === 0);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps.every((gap) => gap >= 5 && gap <= 15), 'gaps from every / 2 to 3 * every / 2');
  assert.ok(Math.abs(100_000 / times.length - 10) < 0.2, `mean gap ${100_000 / times.length}`);
  // A loop of 7 cycles, one instruction per cycle: every instruction gets its share.
  const pcs = new Set(sampler.samples.filter((_, i) => i % 2 === 1));
  assert.equal(pcs.size, 7);
});

test('samples inside the stretch are counted per function, by address', () => {
  const symbols = new Map([
    ['_ZN1a4work17h0000000000000000E', { address: 0x1001, size: 0x10 }],
    ['helper', { address: 0x1011, size: 0x8 }],
    ['data', { address: 0x2000, size: 0 }],
  ]);
  const profile = new Profile(symbols);
  profile.add([10, 0x1000, 11, 0x100e, 12, 0x1012, 13, 0x3000, 99, 0x1000], 10, 20);
  assert.equal(profile.total, 4);
  assert.deepEqual(Object.fromEntries(profile.counts), { 'a::work': 2, helper: 1, '(no symbol at 0x3000)': 1 });
  const [top] = profile.lines(1000);
  assert.match(top, /^ +500 +50\.0% {2}a::work$/);
  assert.deepEqual(profile.addressLines(1000), [
    '00001000         250  a::work',
    '0000100e         250  a::work',
    '00001012         250  helper',
    '00003000         250  (no symbol at 0x3000)',
  ]);
});
