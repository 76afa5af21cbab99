//! Random int8 layers from a seed (feature `kernel-cases`): the one case generator behind every
//! check of the int8 kernels, the host's proptests (`tests/kernels.rs`, each kernel against a
//! naive reference) and the QEMU kernel check (`firmware/qemu`, bin `kernel-check`, each Arm
//! form against the portable one). no_std and no alloc, so it runs on the board; the checks own
//! the buffers (statics there, vectors here) and say how large they are ([`Limits`]).
//!
//! The cases reach what the kernels branch on: channel counts that are and are not multiples of
//! four, more filters than the DSP form takes in one pass, kernels wider than the input,
//! strides past the kernel, padding, every zero point, relu or not, sigmoid tables, and
//! requantisation multipliers over their whole range with shifts the exporter produces.

use crate::format::{ConvGeometry, Shape};

use super::layer::{Conv, conv_lane_words, dense_lane_words, patch_len};
use super::requant::Requant;

/// xorshift32: the same cases for the same seed on every target.
#[derive(Debug, Clone)]
pub struct Random(u32);

impl Random {
    /// A generator from any seed (mixed, so that close seeds start far apart).
    pub const fn new(seed: u32) -> Self {
        // xorshift never leaves 0, and the mixed seed is odd.
        Random(seed.wrapping_mul(0x9e37_79b9) | 1)
    }

    /// The next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }

    /// A value in `low..=high`.
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        let span = high.saturating_sub(low).saturating_add(1);
        low + self.next_u32() as usize % span
    }

    /// True one time in `n`.
    pub fn one_in(&mut self, n: u32) -> bool {
        self.next_u32().is_multiple_of(n.max(1))
    }

    /// Any int8 code.
    pub fn code(&mut self) -> i8 {
        self.next_u32() as i8
    }

    /// Random bytes.
    pub fn fill(&mut self, bytes: &mut [u8]) {
        bytes.iter_mut().for_each(|b| *b = self.next_u32() as u8);
    }
}

/// The buffers a check has for one case, in values, bytes or words.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Input and output codes, and a convolution's patch.
    pub values: usize,
    /// Weight bytes.
    pub weights: usize,
    /// Output channels (biases and requantisation entries).
    pub channels: usize,
    /// Widened lane words ([`conv_lane_words`], [`dense_lane_words`]).
    pub lanes: usize,
}

/// The quantisation side of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequantCase {
    /// The input's zero point, also the padding code.
    pub input_zero: i8,
    /// The output's zero point.
    pub output_zero: i8,
    /// Codes below the output zero point clamp to it.
    pub relu: bool,
    /// Output codes go through a random sigmoid table.
    pub sigmoid: bool,
}

impl RequantCase {
    fn draw(random: &mut Random, sigmoid_one_in: u32) -> Self {
        RequantCase {
            input_zero: random.code(),
            output_zero: random.code(),
            relu: random.one_in(2),
            sigmoid: random.one_in(sigmoid_one_in),
        }
    }

    /// The kernels' [`Requant`] over a drawn table and sigmoid table.
    pub fn requant<'a>(&self, data: &'a CaseData<'_>) -> Requant<'a> {
        let lut: &[u8] = if self.sigmoid {
            data.lut.as_slice()
        } else {
            &[]
        };
        Requant::new(
            &*data.table,
            self.input_zero,
            self.output_zero,
            self.relu,
            lut,
        )
    }
}

/// A case's values, cut to its sizes; or the check's buffers they are drawn into, as long as
/// [`Limits`] says (4 bias bytes and 8 table bytes per channel).
#[derive(Debug)]
pub struct CaseData<'a> {
    /// Input codes, HWC.
    pub input: &'a mut [i8],
    /// OHWI (conv) or `[out][in]` (dense) int8 weights.
    pub weights: &'a mut [u8],
    /// One i32 per output channel, little-endian: the file's biases, which fold in the input
    /// zero point (FORMAT.md).
    pub bias: &'a mut [u8],
    /// Per output channel an i32 multiplier in `[2^30, 2^31)` and an i32 shift in `-20..=1`.
    pub table: &'a mut [u8],
    /// A sigmoid table (used when [`RequantCase::sigmoid`]).
    pub lut: &'a mut [u8; 256],
}

impl CaseData<'_> {
    /// Draws `inputs` codes, `weights` bytes and `outputs` channels' biases and requantisation
    /// entries into the buffers (cut short where the buffers are shorter: [`Limits`] says how
    /// long they are, and the cases are drawn within it).
    fn draw(
        &mut self,
        random: &mut Random,
        inputs: usize,
        weights: usize,
        outputs: usize,
    ) -> CaseData<'_> {
        let input = prefix(&mut *self.input, inputs);
        input.iter_mut().for_each(|x| *x = random.code());
        let weights = prefix(&mut *self.weights, weights);
        random.fill(weights);
        let bias = prefix(&mut *self.bias, 4 * outputs);
        for b in bias.chunks_exact_mut(4) {
            let value = random.range(0, 20_000) as i32 - 10_000;
            b.copy_from_slice(&value.to_le_bytes());
        }
        let table = prefix(&mut *self.table, 8 * outputs);
        for entry in table.chunks_exact_mut(8) {
            let multiplier = (1u32 << 30) | (random.next_u32() >> 2);
            let shift = random.range(0, 21) as i32 - 20;
            let (multiplier_bytes, shift_bytes) = entry.split_at_mut(4);
            multiplier_bytes.copy_from_slice(&multiplier.to_le_bytes());
            shift_bytes.copy_from_slice(&shift.to_le_bytes());
        }
        random.fill(self.lut.as_mut_slice());
        CaseData {
            input,
            weights,
            bias,
            table,
            lut: &mut *self.lut,
        }
    }
}

/// The first `len` values of `buffer`, or all of it if it is shorter.
fn prefix<T>(buffer: &mut [T], len: usize) -> &mut [T] {
    let len = len.min(buffer.len());
    buffer.split_at_mut(len).0
}

/// A random int8 convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvCase {
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Kernel, stride and padding.
    pub geometry: ConvGeometry,
    /// Zero points, relu, sigmoid.
    pub requant: RequantCase,
}

impl ConvCase {
    /// Draws shapes until they fit `limits`.
    pub fn draw(random: &mut Random, limits: &Limits) -> Self {
        loop {
            // Channel counts that are and are not multiples of four (the DSP form takes the
            // first straight from the input).
            let channels = random.range(1, 6) * if random.one_in(4) { 1 } else { 4 };
            // Now and then more filters than the DSP form takes in one pass (64).
            let filters = if random.one_in(8) {
                random.range(60, limits.channels)
            } else {
                random.range(1, 9)
            };
            let geometry = ConvGeometry {
                kernel: random.range(1, 6),
                stride: random.range(1, 3),
                pad: random.range(0, 2),
            };
            let (height, width) = (random.range(1, 12), random.range(1, 12));
            let (Some(out_height), Some(out_width)) =
                (geometry.output_side(height), geometry.output_side(width))
            else {
                continue;
            };
            let case = ConvCase {
                input: Shape {
                    channels,
                    height,
                    width,
                },
                output: Shape {
                    channels: filters,
                    height: out_height,
                    width: out_width,
                },
                geometry,
                requant: RequantCase::draw(random, 4),
            };
            if case.fits(limits) {
                return case;
            }
        }
    }

    fn fits(&self, limits: &Limits) -> bool {
        let conv = self.conv(&[], &[]);
        self.input.len() <= limits.values
            && self.output.len() <= limits.values
            && self.output.channels <= limits.channels
            && self.weights_len() <= limits.weights
            && patch_len(&conv) <= limits.values
            && conv_lane_words(&conv) <= limits.lanes
    }

    /// Weight bytes: output channels x kernel x kernel x input channels.
    pub fn weights_len(&self) -> usize {
        let k = self.geometry.kernel;
        self.output.channels * k * k * self.input.channels
    }

    /// Draws the case's values into `buffers`.
    pub fn data<'a>(&self, random: &mut Random, buffers: &'a mut CaseData<'_>) -> CaseData<'a> {
        let inputs = self.input.len();
        buffers.draw(random, inputs, self.weights_len(), self.output.channels)
    }

    /// The layer as the kernels take it.
    pub fn conv<'a>(&self, weights: &'a [u8], bias: &'a [u8]) -> Conv<'a> {
        Conv {
            input: self.input,
            output: self.output,
            geometry: self.geometry,
            weights,
            bias,
        }
    }
}

/// A random int8 dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseCase {
    /// Input values.
    pub inputs: usize,
    /// Output values.
    pub outputs: usize,
    /// Zero points, relu, sigmoid (half the time).
    pub requant: RequantCase,
}

impl DenseCase {
    /// Draws sizes that fit `limits`.
    pub fn draw(random: &mut Random, limits: &Limits) -> Self {
        let outputs = random.range(1, 24).min(limits.channels).max(1);
        let inputs = random
            .range(1, 600)
            .min(limits.weights / outputs)
            .min(limits.values);
        // The lanes hold two words per four inputs.
        let inputs = if dense_lane_words(inputs) > limits.lanes {
            limits.lanes / 2 * 4
        } else {
            inputs
        };
        DenseCase {
            inputs,
            outputs,
            requant: RequantCase::draw(random, 2),
        }
    }

    /// Draws the case's values into `buffers`.
    pub fn data<'a>(&self, random: &mut Random, buffers: &'a mut CaseData<'_>) -> CaseData<'a> {
        let weights = self.inputs * self.outputs;
        buffers.draw(random, self.inputs, weights, self.outputs)
    }
}
