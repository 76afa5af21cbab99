//! The int8 kernels' DSP forms (runtime-nostd feature `arm-dsp`: SMLAD, SXTB16 in inline
//! assembly) against the portable reference kernels, bit for bit, on random shapes, strides,
//! paddings, zero points, requantisation parameters and values, on the Cortex-M33 (QEMU
//! mps2-an505). `firmware/run-qemu.sh` runs it; the exit status is 0 only if every output of
//! every case matches.
//!
//! The cases come from a seed that changes with every run (the host's clock, through
//! semihosting) and is printed first; building with `KERNEL_CHECK_SEED=<seed>` repeats a run.
//! Both output buffers are filled with different codes before each case, so an output that a
//! kernel leaves unwritten differs instead of keeping the last case's value.
#![no_std]
#![no_main]

use cortex_m as _; // its critical-section implementation
use cortex_m_rt::entry;
use defmt_semihosting as _;
use runtime_nostd::format::{ConvGeometry, Shape};
use runtime_nostd::kernels::{
    Conv, Requant, conv_lane_words, conv2d_i8, conv2d_i8_portable, dense_i8, dense_i8_portable,
    dense_lane_words, patch_len,
};

/// Random cases of each kind.
const CASES: usize = 400;
/// Buffer sizes the cases stay within.
const VALUES: usize = 8192;
const WEIGHTS: usize = 16384;
const CHANNELS: usize = 160;
const LANES: usize = 4096;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}

/// xorshift32: the same cases for the same seed.
struct Random(u32);

impl Random {
    /// From a seed: `KERNEL_CHECK_SEED` at build time, else the host's clock in seconds.
    fn seeded() -> (u32, Self) {
        let seed = option_env!("KERNEL_CHECK_SEED")
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or_else(|| {
                semihosting::sys::arm_compat::sys_time().map_or(0x1234_5678, |t| t as u32)
            });
        // xorshift never leaves 0; mix the seed so that close seeds start far apart.
        let state = seed.wrapping_mul(0x9e37_79b9) | 1;
        (seed, Random(state))
    }

    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// A value in `low..=high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.next() as usize % (high - low + 1)
    }

    fn code(&mut self) -> i8 {
        self.next() as i8
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        bytes.iter_mut().for_each(|b| *b = self.next() as u8);
    }
}

/// Buffers for one case, static so that nothing large sits on the stack.
struct Buffers {
    input: [i8; VALUES],
    weights: [u8; WEIGHTS],
    bias: [u8; 4 * CHANNELS],
    table: [u8; 8 * CHANNELS],
    lut: [u8; 256],
    patch: [i8; VALUES],
    lanes: [u32; LANES],
    reference: [i8; VALUES],
    dsp: [i8; VALUES],
}

/// A requantisation table: per channel a multiplier in [2^30, 2^31) and a shift in -20..=1.
fn table(random: &mut Random, table: &mut [u8]) {
    for entry in table.chunks_exact_mut(8) {
        let multiplier = (1u32 << 30) | (random.next() >> 2);
        let shift = random.range(0, 21) as i32 - 20;
        entry[..4].copy_from_slice(&multiplier.to_le_bytes());
        entry[4..].copy_from_slice(&shift.to_le_bytes());
    }
}

/// A requantisation with random zero points, relu or not, and one time in `lut_one_in` a
/// random sigmoid table.
fn requant<'a>(
    random: &mut Random,
    table: &'a [u8],
    lut: &'a mut [u8; 256],
    lut_one_in: u32,
) -> Requant<'a> {
    random.fill(lut);
    let lut: &[u8] = if random.next().is_multiple_of(lut_one_in) {
        lut
    } else {
        &[]
    };
    Requant::new(
        table,
        random.code(),
        random.code(),
        random.next().is_multiple_of(2),
        lut,
    )
}

fn biases(random: &mut Random, bias: &mut [u8]) {
    for b in bias.chunks_exact_mut(4) {
        let value = (random.next() % 20_001) as i32 - 10_000;
        b.copy_from_slice(&value.to_le_bytes());
    }
}

/// One random convolution through both forms; returns the number of outputs compared, or the
/// first that differs.
fn conv_case(random: &mut Random, b: &mut Buffers) -> Result<usize, usize> {
    loop {
        // Channel counts that are and are not multiples of four (the DSP form takes the first).
        let c = random.range(1, 6)
            * if random.next().is_multiple_of(4) {
                1
            } else {
                4
            };
        // Now and then more filters than the DSP form takes in one pass (64).
        let o = if random.next().is_multiple_of(8) {
            random.range(60, CHANNELS)
        } else {
            random.range(1, 9)
        };
        let k = random.range(1, 6);
        let (stride, pad) = (random.range(1, 3), random.range(0, 2));
        let (h, w) = (random.range(1, 12), random.range(1, 12));
        let geometry = ConvGeometry {
            kernel: k,
            stride,
            pad,
        };
        let (Some(oh), Some(ow)) = (geometry.output_side(h), geometry.output_side(w)) else {
            continue;
        };
        let (input, output) = (
            Shape {
                channels: c,
                height: h,
                width: w,
            },
            Shape {
                channels: o,
                height: oh,
                width: ow,
            },
        );
        let weights_len = o * k * k * c;
        if input.len() > VALUES || output.len() > VALUES || weights_len > WEIGHTS {
            continue;
        }
        random.fill(&mut b.weights[..weights_len]);
        b.input
            .iter_mut()
            .take(input.len())
            .for_each(|x| *x = random.code());
        biases(random, &mut b.bias[..4 * o]);
        table(random, &mut b.table[..8 * o]);
        let conv = Conv {
            input,
            output,
            geometry,
            weights: &b.weights[..weights_len],
            bias: &b.bias[..4 * o],
        };
        if patch_len(&conv) > VALUES || conv_lane_words(&conv) > LANES {
            continue;
        }
        let requant = requant(random, &b.table[..8 * o], &mut b.lut, 4);
        let values = &b.input[..input.len()];
        conv2d_i8_portable(&conv, &requant, values, &mut b.patch, &mut b.reference);
        conv2d_i8(
            &conv,
            &requant,
            values,
            &mut b.patch,
            &mut b.lanes,
            &mut b.dsp,
        );
        let n = output.len();
        return match (0..n).find(|&i| b.reference[i] != b.dsp[i]) {
            None => Ok(n),
            Some(i) => {
                defmt::error!(
                    "conv {=usize}x{=usize}x{=usize} -> {=usize} channels, kernel {=usize}, stride {=usize}, pad {=usize}: output {=usize} is {=i8}, the reference {=i8}",
                    h,
                    w,
                    c,
                    o,
                    k,
                    stride,
                    pad,
                    i,
                    b.dsp[i],
                    b.reference[i]
                );
                Err(i)
            }
        };
    }
}

/// One random dense layer through both forms, with a sigmoid table half the time.
fn dense_case(random: &mut Random, b: &mut Buffers) -> Result<usize, usize> {
    let (n, o) = (random.range(1, 600), random.range(1, 24));
    let n = n.min(WEIGHTS / o).min(2 * LANES);
    random.fill(&mut b.weights[..n * o]);
    b.input.iter_mut().take(n).for_each(|x| *x = random.code());
    biases(random, &mut b.bias[..4 * o]);
    table(random, &mut b.table[..8 * o]);
    let requant = requant(random, &b.table[..8 * o], &mut b.lut, 2);
    if dense_lane_words(n) > LANES {
        return Ok(0);
    }
    let (input, weights, bias) = (&b.input[..n], &b.weights[..n * o], &b.bias[..4 * o]);
    dense_i8_portable(input, weights, bias, &requant, &mut b.reference[..o]);
    dense_i8(
        input,
        weights,
        bias,
        &requant,
        &mut b.lanes,
        &mut b.dsp[..o],
    );
    match (0..o).find(|&i| b.reference[i] != b.dsp[i]) {
        None => Ok(o),
        Some(i) => Err(i),
    }
}

#[entry]
fn main() -> ! {
    let buffers = cortex_m::singleton!(: Buffers = Buffers {
        input: [0; VALUES],
        weights: [0; WEIGHTS],
        bias: [0; 4 * CHANNELS],
        table: [0; 8 * CHANNELS],
        lut: [0; 256],
        patch: [0; VALUES],
        lanes: [0; LANES],
        reference: [0; VALUES],
        dsp: [0; VALUES],
    });
    let Some(b) = buffers else {
        semihosting::process::exit(2)
    };
    let (seed, mut random) = Random::seeded();
    defmt::info!(
        "kernel-check: seed {=u32} (KERNEL_CHECK_SEED={=u32} ./run-qemu.sh repeats this run)",
        seed,
        seed
    );
    let (mut conv_outputs, mut dense_outputs) = (0, 0);
    for case in 0..CASES {
        // Unwritten outputs must differ between the two forms, and from the last case.
        b.reference.fill(0x55);
        b.dsp.fill(-0x56);
        match conv_case(&mut random, b) {
            Ok(n) => conv_outputs += n,
            Err(at) => {
                defmt::error!(
                    "conv case {=usize} (seed {=u32}): output {=usize} differs",
                    case,
                    seed,
                    at
                );
                semihosting::process::exit(1)
            }
        }
        match dense_case(&mut random, b) {
            Ok(n) => dense_outputs += n,
            Err(at) => {
                defmt::error!(
                    "dense case {=usize} (seed {=u32}): output {=usize} differs",
                    case,
                    seed,
                    at
                );
                semihosting::process::exit(1)
            }
        }
    }
    defmt::info!(
        "kernel-check: {=usize} conv and {=usize} dense cases, {=usize} + {=usize} outputs, DSP forms equal to the portable ones bit for bit",
        CASES,
        CASES,
        conv_outputs,
        dense_outputs
    );
    semihosting::process::exit(0)
}
