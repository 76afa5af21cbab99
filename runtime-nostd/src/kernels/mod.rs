//! Inference kernels: conv2d and dense in f32 and int8, plus the one requantisation rule.
//!
//! Activations are HWC (channels last) and conv weights OHWI (`[out][ky][kx][in]`), as in
//! TFLite: the inner loop of every kernel is then a dot product of two contiguous runs. Weights
//! stay little-endian bytes read in place from the model file. Every access goes through
//! iterators or `get`, so a kernel cannot panic; shapes were validated when the model was parsed.
//!
//! The kernels here are portable and the reference. With the `arm-dsp` feature on an Arm target
//! (for cores with the DSP extension: Cortex-M4, M7, M33 with DSP), [`conv2d_i8`] and
//! [`dense_i8`] run the int8 dot products of `arm_dsp` instead, which give the same results bit
//! for bit; this is the one place that chooses. (Rust's `target_feature = "dsp"` is unstable, so
//! the build says it with a feature.)

use crate::format::{Activation, Shape};

#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
pub mod arm_dsp;

/// An Arm core (Cortex-M): no vector unit and 13 general registers, so the scalar forms unrolled
/// by hand suit it; elsewhere the lane forms, which vectorise. With [`arm_dsp`] (`arm-dsp`
/// feature) the int8 convolution and dense layer take the DSP forms instead (`conv2d_i8`,
/// `dense_i8`).
const SCALAR_CORE: bool = cfg!(target_arch = "arm");

pub use crate::format::ConvGeometry;

impl ConvGeometry {
    /// The kernel taps `[first, last)` that land inside an input of `len` for output position
    /// `out`, and the input index of the first one.
    fn taps(&self, out: usize, len: usize) -> (usize, usize, usize) {
        let origin = out * self.stride; // input index of tap 0, plus `pad`
        let first = self.pad.saturating_sub(origin).min(self.kernel);
        let last = (len + self.pad)
            .saturating_sub(origin)
            .min(self.kernel)
            .max(first);
        (first, last, (origin + first).saturating_sub(self.pad))
    }
}

/// A convolution layer as the kernels see it: shapes, geometry and its weight and bias bytes.
#[derive(Debug, Clone, Copy)]
pub struct Conv<'a> {
    /// Input shape (HWC in memory).
    pub input: Shape,
    /// Output shape (HWC in memory).
    pub output: Shape,
    /// Kernel, stride and padding.
    pub geometry: ConvGeometry,
    /// OHWI weights, f32 little-endian or int8.
    pub weights: &'a [u8],
    /// One f32 or i32 (little-endian) per output channel.
    pub bias: &'a [u8],
}

fn f32_at(bytes: &[u8]) -> f32 {
    bytes.try_into().map(f32::from_le_bytes).unwrap_or(0.0)
}

/// `sum(x[i] * w[i])` with `w` as little-endian f32 bytes. Eight partial sums let the compiler
/// vectorise without reassociating a single sum.
pub fn dot_f32(x: &[f32], w: &[u8]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (x8, w8) = (x.chunks_exact(8), w.chunks_exact(32));
    let (x_rest, w_rest) = (x8.remainder(), w8.remainder());
    for (xs, ws) in x8.zip(w8) {
        for ((lane, &xv), wv) in lanes.iter_mut().zip(xs).zip(ws.chunks_exact(4)) {
            *lane += xv * f32_at(wv);
        }
    }
    let mut sum = lanes.iter().sum::<f32>();
    for (&xv, wv) in x_rest.iter().zip(w_rest.chunks_exact(4)) {
        sum += xv * f32_at(wv);
    }
    sum
}

/// `sum(x[i] * w[i])` over int8 codes, with `w` as raw int8 bytes: the int8 kernels' inner
/// loop, in the form that suits the target. Wrapping i32 addition is associative, so both forms
/// give the same result bit for bit (the QEMU check compares the firmware with the host).
pub fn dot_i8(x: &[i8], w: &[u8]) -> i32 {
    if SCALAR_CORE {
        dot_i8_unrolled(x, w)
    } else {
        dot_i8_lanes(x, w)
    }
}

fn mul_i8(x: i8, w: u8) -> i32 {
    i32::from(x) * i32::from(w as i8)
}

/// [`dot_i8`] one product at a time: the short tails and unrolled steps of the other forms.
fn dot_i8_serial(x: &[i8], w: &[u8]) -> i32 {
    x.iter()
        .zip(w)
        .fold(0i32, |t, (&xv, &wb)| t.wrapping_add(mul_i8(xv, wb)))
}

/// [`dot_i8`] in sixteen independent wrapping i32 lanes, which vectorise on SIMD hosts.
#[doc(hidden)] // public for the proptests that hold every form to the exact sum
pub fn dot_i8_lanes(x: &[i8], w: &[u8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (x16, w16) = (x.chunks_exact(16), w.chunks_exact(16));
    let (x_rest, w_rest) = (x16.remainder(), w16.remainder());
    for (xs, ws) in x16.zip(w16) {
        for ((lane, &xv), &wb) in lanes.iter_mut().zip(xs).zip(ws) {
            *lane = lane.wrapping_add(mul_i8(xv, wb));
        }
    }
    lanes
        .iter()
        .fold(dot_i8_serial(x_rest, w_rest), |t, &v| t.wrapping_add(v))
}

/// [`dot_i8`] with one accumulator and eight products per step, for a Cortex-M: it has no
/// vector unit and 13 general registers (lanes would spill), and LLVM does not unroll loops
/// for it, so the step is unrolled here (about 3.6 instead of 6 instructions per product).
#[doc(hidden)] // public for the proptests that hold every form to the exact sum
pub fn dot_i8_unrolled(x: &[i8], w: &[u8]) -> i32 {
    let (x8, w8) = (x.chunks_exact(8), w.chunks_exact(8));
    let tail = dot_i8_serial(x8.remainder(), w8.remainder());
    x8.zip(w8).fold(tail, |sum, (xs, ws)| {
        sum.wrapping_add(dot_i8_serial(xs, ws))
    })
}

/// Two int8 dot products over the same `x` (two output channels of one patch), each equal to
/// [`dot_i8`]. On a Cortex-M, one pass loads each `x` value once for both filters (about 2.9
/// instead of 3.6 instructions per product); elsewhere it is two [`dot_i8`].
pub fn dot_i8_pair(x: &[i8], w0: &[u8], w1: &[u8]) -> (i32, i32) {
    if SCALAR_CORE {
        dot_i8_pair_unrolled(x, w0, w1)
    } else {
        (dot_i8(x, w0), dot_i8(x, w1))
    }
}

/// [`dot_i8_pair`] in one pass, eight products per filter and step (see [`dot_i8_unrolled`]).
#[doc(hidden)] // public for the proptests that hold every form to the exact sum
pub fn dot_i8_pair_unrolled(x: &[i8], w0: &[u8], w1: &[u8]) -> (i32, i32) {
    let (x8, w08, w18) = (x.chunks_exact(8), w0.chunks_exact(8), w1.chunks_exact(8));
    let tails = (
        dot_i8_serial(x8.remainder(), w08.remainder()),
        dot_i8_serial(x8.remainder(), w18.remainder()),
    );
    x8.zip(w08.zip(w18)).fold(tails, |(s0, s1), (xs, (a, b))| {
        let (p0, p1) =
            xs.iter()
                .zip(a.iter().zip(b))
                .fold((0i32, 0i32), |(t0, t1), (&xv, (&wa, &wb))| {
                    (
                        t0.wrapping_add(mul_i8(xv, wa)),
                        t1.wrapping_add(mul_i8(xv, wb)),
                    )
                });
        (s0.wrapping_add(p0), s1.wrapping_add(p1))
    })
}

fn activate_f32(x: f32, activation: Activation) -> f32 {
    match activation {
        Activation::Identity => x,
        Activation::Relu => x.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + libm::expf(-x)),
    }
}

/// The bias of output `o` (f32 or i32 little-endian, 4 bytes each).
fn bias_bytes(bias: &[u8], o: usize) -> &[u8] {
    bias.get(o * 4..o * 4 + 4).unwrap_or_default()
}

/// Values in one im2col patch of `conv`: what the caller's patch buffer must hold.
pub fn patch_len(conv: &Conv<'_>) -> usize {
    conv.geometry.kernel * conv.geometry.kernel * conv.input.channels
}

/// What [`conv_walk`] needs of an activation type: the width of its weights and its dot
/// products with them.
trait PatchValue: Copy {
    /// A dot product's accumulator.
    type Sum;
    /// Bytes per weight.
    const WEIGHT_BYTES: usize;
    /// `sum(x[i] * w[i])`.
    fn dot(x: &[Self], w: &[u8]) -> Self::Sum;
    /// Two dot products over the same `x`.
    fn dot_pair(x: &[Self], w0: &[u8], w1: &[u8]) -> (Self::Sum, Self::Sum) {
        (Self::dot(x, w0), Self::dot(x, w1))
    }
}

impl PatchValue for f32 {
    type Sum = f32;
    const WEIGHT_BYTES: usize = 4;
    fn dot(x: &[f32], w: &[u8]) -> f32 {
        dot_f32(x, w)
    }
}

impl PatchValue for i8 {
    type Sum = i32;
    const WEIGHT_BYTES: usize = 1;
    fn dot(x: &[i8], w: &[u8]) -> i32 {
        dot_i8(x, w)
    }
    fn dot_pair(x: &[i8], w0: &[u8], w1: &[u8]) -> (i32, i32) {
        dot_i8_pair(x, w0, w1)
    }
}

/// Output pixel (`oy`, `ox`)'s patch (`[ky][kx][c]`) as input runs: whether all k x k taps fall
/// inside the input (if not, the caller pads the patch first), and for each row of taps inside,
/// `(patch index, input index, values)`.
fn patch_runs(
    conv: &Conv<'_>,
    oy: usize,
    ox: usize,
) -> (bool, impl Iterator<Item = (usize, usize, usize)>) {
    let (in_shape, geometry) = (conv.input, conv.geometry);
    let (c, k) = (in_shape.channels, geometry.kernel);
    let (ky0, ky1, iy0) = geometry.taps(oy, in_shape.height);
    let (kx0, kx1, ix0) = geometry.taps(ox, in_shape.width);
    let inside = ky1 - ky0 == k && kx1 - kx0 == k;
    let runs = (ky0..ky1).enumerate().map(move |(row, ky)| {
        let x_start = ((iy0 + row) * in_shape.width + ix0) * c;
        ((ky * k + kx0) * c, x_start, (kx1 - kx0) * c)
    });
    (inside, runs)
}

/// Copies the input runs of pixel (`oy`, `ox`) into `patch`, padded with `pad`.
fn gather_patch<X: Copy>(
    conv: &Conv<'_>,
    oy: usize,
    ox: usize,
    input: &[X],
    patch: &mut [X],
    pad: X,
) {
    let (inside, runs) = patch_runs(conv, oy, ox);
    if !inside {
        patch.fill(pad);
    }
    for (p_start, x_start, run) in runs {
        if let (Some(dst), Some(src)) = (
            patch.get_mut(p_start..p_start + run),
            input.get(x_start..x_start + run),
        ) {
            dst.copy_from_slice(src);
        }
    }
}

/// For every output pixel, gathers its input patch (`[ky][kx][c]`, padding filled with
/// `pad_value`) into `patch`, then hands the dot product of the patch with every output
/// channel's filter to `emit(output index, channel, sum)`. One long dot product per output
/// keeps the inner loop vectorised; the f32 and int8 convolutions share this walk.
fn conv_walk<X: PatchValue>(
    conv: &Conv<'_>,
    input: &[X],
    patch: &mut [X],
    pad_value: X,
    mut emit: impl FnMut(usize, usize, X::Sum),
) {
    let out_shape = conv.output;
    let patch = patch.get_mut(..patch_len(conv)).unwrap_or_default();
    let filter_bytes = (patch.len() * X::WEIGHT_BYTES).max(1);
    for oy in 0..out_shape.height {
        for ox in 0..out_shape.width {
            gather_patch(conv, oy, ox, input, patch, pad_value);
            let first = (oy * out_shape.width + ox) * out_shape.channels;
            // Output channels two at a time: each patch value loaded serves two filters.
            let pairs = conv.weights.chunks(2 * filter_bytes);
            for (oc, filters) in (0..).step_by(2).zip(pairs) {
                match (filters.get(..filter_bytes), filters.get(filter_bytes..)) {
                    (Some(a), Some(b)) if !b.is_empty() => {
                        let (sum_a, sum_b) = X::dot_pair(patch, a, b);
                        emit(first + oc, oc, sum_a);
                        emit(first + oc + 1, oc + 1, sum_b);
                    }
                    _ => emit(first + oc, oc, X::dot(patch, filters)),
                }
            }
        }
    }
}

/// f32 convolution, HWC in and out, with bias and activation; `patch` holds
/// [`patch_len`] values.
pub fn conv2d_f32(
    conv: &Conv<'_>,
    activation: Activation,
    input: &[f32],
    patch: &mut [f32],
    output: &mut [f32],
) {
    conv_walk(conv, input, patch, 0.0, |index, oc, acc| {
        if let Some(out) = output.get_mut(index) {
            *out = activate_f32(acc + f32_at(bias_bytes(conv.bias, oc)), activation);
        }
    });
}

/// f32 fully connected layer, weights `[out][in]`.
pub fn dense_f32(
    input: &[f32],
    weights: &[u8],
    bias: &[u8],
    activation: Activation,
    output: &mut [f32],
) {
    let row_bytes = input.len() * 4;
    for (o, (out, row)) in output
        .iter_mut()
        .zip(weights.chunks_exact(row_bytes.max(1)))
        .enumerate()
    {
        *out = activate_f32(
            dot_f32(input, row) + f32_at(bias_bytes(bias, o)),
            activation,
        );
    }
}

/// Requantisation, the one rounding rule of the int8 path (quoted in FORMAT.md):
///
/// `requantize(acc, m, s) = floor((acc * m + 2^(n-1)) / 2^n)` with `n = 31 - s` (clamped to
/// 1..=62), computed exactly in i64 and saturated to i32. With `m` in `[2^30, 2^31)` this is
/// `acc * m * 2^(s-31)` rounded to nearest, ties towards +infinity.
///
/// ```
/// use runtime_nostd::kernels::requantize;
/// assert_eq!(requantize(100, 1 << 30, 0), 50);  // x 0.5
/// assert_eq!(requantize(3, 1 << 30, 0), 2);     // 1.5 rounds up
/// assert_eq!(requantize(-3, 1 << 30, 0), -1);   // -1.5 rounds up too
/// ```
pub fn requantize(acc: i32, multiplier: i32, shift: i32) -> i32 {
    let n = 31i32.saturating_sub(shift).clamp(1, 62) as u32;
    let product = i64::from(acc) * i64::from(multiplier);
    let rounded = (product + (1i64 << (n - 1))) >> n;
    rounded.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Fixed-point form `(multiplier, shift)` of a positive real multiplier for [`requantize`]:
/// `real ~= multiplier * 2^(shift - 31)` with `multiplier` in `[2^30, 2^31)`. Non-positive or
/// non-finite inputs give `(0, 0)`, which requantises everything to 0.
///
/// ```
/// let (m, s) = runtime_nostd::kernels::quantize_multiplier(0.75);
/// assert_eq!((m, s), (3 << 29, 0));
/// ```
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if !(real.is_finite() && real > 0.0) {
        return (0, 0);
    }
    let (mut fraction, mut shift) = (real, 0i32);
    while fraction >= 1.0 {
        fraction /= 2.0;
        shift += 1;
    }
    while fraction < 0.5 {
        fraction *= 2.0;
        shift -= 1;
    }
    let mut q = libm::round(fraction * (1u64 << 31) as f64) as i64;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q as i32, shift.min(30))
}

/// How an int8 layer turns an accumulator into an output code. The zero points are int8
/// codes by type, so the lowest output code (the floor a fused relu sets) is one too.
#[derive(Debug, Clone, Copy)]
pub struct Requant<'a> {
    table: &'a [u8],
    input_zero: i8,
    output_zero: i8,
    floor: i8,
    lut: &'a [u8],
}

impl<'a> Requant<'a> {
    /// `table`: per output channel an i32 multiplier and an i32 shift (little-endian);
    /// `input_zero`: the input's zero point, also the conv padding code (exactly real 0);
    /// `output_zero`: the zero point added after requantisation (of the output, or of the
    /// sigmoid input); `relu`: whether codes below `output_zero` clamp to it; `lut`: the
    /// sigmoid table (256 codes) or empty.
    pub fn new(
        table: &'a [u8],
        input_zero: i8,
        output_zero: i8,
        relu: bool,
        lut: &'a [u8],
    ) -> Self {
        Requant {
            table,
            input_zero,
            output_zero,
            floor: if relu { output_zero } else { i8::MIN },
            lut,
        }
    }

    /// The input zero point: the code conv padding is filled with.
    pub fn input_zero(&self) -> i8 {
        self.input_zero
    }
}

impl Requant<'_> {
    /// Channel `channel`'s scaling with its int32 bias (the file's biases already hold
    /// `- input_zero * sum(w)`, see FORMAT.md): its table entry decoded once, for every output
    /// of the channel.
    pub fn scale(&self, channel: usize, bias: i32) -> ChannelScale {
        let entry = self
            .table
            .get(channel * 8..channel * 8 + 8)
            .unwrap_or_default();
        let field = |at: usize| entry.get(at..at + 4).map_or(0, i32_at);
        let n = 31i32.saturating_sub(field(4)).clamp(1, 62) as u32;
        ChannelScale {
            multiplier: field(0),
            rounding: 1i64 << (n - 1),
            n,
            bias,
        }
    }

    /// The output code of a scaled accumulator ([`ChannelScale::scaled`]): plus the output
    /// zero point, clamped to the codes (from the floor), through the sigmoid table if any.
    #[inline]
    pub fn output_code(&self, scaled: i32) -> i8 {
        self.looked_up(self.clamped_code(scaled))
    }

    /// [`output_code`](Self::output_code) before the sigmoid table.
    #[inline]
    pub fn clamped_code(&self, scaled: i32) -> i8 {
        scaled
            .saturating_add(i32::from(self.output_zero))
            .clamp(i32::from(self.floor), i32::from(i8::MAX)) as i8
    }

    /// [`clamped_code`](Self::clamped_code) in the form that compiles to one `SSAT` on Arm: the
    /// floor is an int8 code, so clamping to the int8 range first and then raising to the floor
    /// is the same clamp. (The portable kernels keep the other form: on x86-64 this one stops
    /// LLVM vectorising the convolution's dot products, 2.5x slower per image.)
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    #[inline]
    fn clamped_code_ssat(&self, scaled: i32) -> i8 {
        let code = scaled
            .saturating_add(i32::from(self.output_zero))
            .clamp(i32::from(i8::MIN), i32::from(i8::MAX));
        code.max(i32::from(self.floor)) as i8
    }

    /// Whether output codes go through a sigmoid table.
    pub fn has_table(&self) -> bool {
        !self.lut.is_empty()
    }

    /// `code` through the sigmoid table (indexed by code + 128), if any.
    #[inline]
    pub fn looked_up(&self, code: i8) -> i8 {
        if self.lut.is_empty() {
            code
        } else {
            let index = usize::from(code.cast_unsigned() ^ 0x80);
            self.lut.get(index).map_or(0, |&b| b.cast_signed())
        }
    }

    /// Output code of channel `channel` for `acc = sum(x*w)` and its int32 bias.
    pub fn code(&self, channel: usize, acc: i32, bias: i32) -> i8 {
        // The same value both ways (a proptest checks it, and the QEMU check compares the
        // firmware's outputs with the host's). On Arm, the decoded scale's 32-bit shift: the
        // 64-bit shift is a library call on the Cortex-M0+. Elsewhere `requantize` as written:
        // inlined into the convolution's walk, the other form stops LLVM vectorising the dot
        // products on x86-64 (2x slower per image).
        let scaled = if SCALAR_CORE {
            self.scale(channel, bias).scaled(acc)
        } else {
            let entry = self
                .table
                .get(channel * 8..channel * 8 + 8)
                .unwrap_or_default();
            let field = |at: usize| entry.get(at..at + 4).map_or(0, i32_at);
            requantize(acc.wrapping_add(bias), field(0), field(4))
        };
        self.output_code(scaled)
    }
}

/// One output channel's bias and fixed-point scale ([`Requant::scale`]), decoded for the
/// kernels' per-pixel loops.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelScale {
    multiplier: i32,
    rounding: i64,
    n: u32,
    bias: i32,
}

impl ChannelScale {
    /// [`requantize`]`(acc + bias)`: the accumulator in the output's scale, before its zero
    /// point.
    #[inline]
    pub fn scaled(&self, acc: i32) -> i32 {
        // requantize's exact rounding, written so that the usual case (n >= 32: a multiplier
        // in [2^30, 2^31) and a scale below 1) is a 64-bit multiply-add and one 32-bit shift:
        // the product plus the rounding term is below 2^63, so its top word fits an i32 and
        // shifting that by n - 32 is the 64-bit shift by n, already within the i32 range.
        let product =
            i64::from(acc.wrapping_add(self.bias)) * i64::from(self.multiplier) + self.rounding;
        match self.n.checked_sub(32) {
            Some(rest) => ((product >> 32) as i32) >> rest,
            None => self.scaled_wide(product),
        }
    }

    /// [`scaled`](Self::scaled) for a scale of 1/2 or more (`n < 32`), which quantised models
    /// seldom have: out of line, so that the usual case runs straight through.
    #[cold]
    #[inline(never)]
    fn scaled_wide(&self, product: i64) -> i32 {
        (product >> self.n).clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }
}

fn i32_at(bytes: &[u8]) -> i32 {
    bytes.try_into().map_or(0, i32::from_le_bytes)
}

/// Output pixels the DSP convolution takes at once.
const QUAD: usize = 4;

/// Words of widened int8 lanes (see `arm_dsp`) a convolution needs: four pixels' patches
/// rounded up to pairs of groups of four values, two words per group and pixel. Part of every
/// int8 scratch, so its size is the same on every target.
pub fn conv_lane_words(conv: &Conv<'_>) -> usize {
    patch_len(conv).div_ceil(8) * 2 * 2 * QUAD
}

/// Words of widened int8 lanes a dense layer of `inputs` values needs: two per four values.
pub fn dense_lane_words(inputs: usize) -> usize {
    inputs / 4 * 2
}

/// int8 convolution, HWC codes in and out, int32 biases; `patch` holds [`patch_len`] codes,
/// `lanes` [`conv_lane_words`] words. Padding is filled with the input zero point, so it
/// contributes exactly 0.
pub fn conv2d_i8(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
) {
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    return conv2d_i8_dsp(conv, requant, input, patch, lanes, output);
    #[cfg(not(all(target_arch = "arm", feature = "arm-dsp")))]
    {
        let _ = lanes;
        conv2d_i8_portable(conv, requant, input, patch, output);
    }
}

/// [`conv2d_i8`] without the DSP extension: the reference.
#[doc(hidden)]
pub fn conv2d_i8_portable(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    output: &mut [i8],
) {
    let pad = requant.input_zero();
    conv_walk(conv, input, patch, pad, |index, oc, acc| {
        if let Some(out) = output.get_mut(index) {
            *out = requant.code(oc, acc, i32_at(bias_bytes(conv.bias, oc)));
        }
    });
}

/// [`conv2d_i8`] with the DSP extension: output pixels four at a time, their patches widened
/// side by side into `lanes`, each filter's dot products with all four in one pass, up to
/// `arm_dsp::FILTERS` filters per call. Patch values go in pairs of groups of four; a filter's
/// last values short of a pair go in as its zero-filled tail weights. When the input channels
/// come in fours every patch run is whole groups, widened straight from the input; otherwise
/// each value is widened on its own into its place. Patches under eight values (which would
/// not fill one pair) take the portable kernel, as do lanes shorter than [`conv_lane_words`].
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn conv2d_i8_dsp(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
) {
    const _: () = assert!(QUAD == arm_dsp::PIXELS);
    const BLOCK: usize = arm_dsp::FILTERS;
    let len = patch_len(conv);
    let (pairs, tail_len) = (len / 8, len % 8);
    if pairs == 0 {
        return conv2d_i8_portable(conv, requant, input, patch, output);
    }
    let direct = conv.input.channels.is_multiple_of(4);
    // Lanes too short for the patches: the portable kernel, rather than outputs left unwritten.
    let Some(lanes) = lanes.get_mut(..conv_lane_words(conv)) else {
        return conv2d_i8_portable(conv, requant, input, patch, output);
    };
    let pad = requant.input_zero();
    let pad_word = arm_dsp::padding_word(pad);
    let out_shape = conv.output;
    let pixels = out_shape.height * out_shape.width;
    let channels = out_shape.channels;
    let mut sums = [[0i32; BLOCK]; QUAD];
    let mut scales = [ChannelScale::default(); BLOCK];
    let mut tails = [arm_dsp::TailWeights::default(); BLOCK];
    for block_start in (0..channels).step_by(BLOCK) {
        let block = BLOCK.min(channels - block_start);
        let scales = scales.get_mut(..block).unwrap_or_default();
        for (oc, scale) in (block_start..).zip(scales.iter_mut()) {
            *scale = requant.scale(oc, i32_at(bias_bytes(conv.bias, oc)));
        }
        let weights = conv
            .weights
            .get(block_start * len..(block_start + block) * len)
            .unwrap_or_default();
        let tails = if tail_len == 0 {
            &[]
        } else {
            for (tail, filter) in tails.iter_mut().zip(weights.chunks_exact(len)) {
                let rest = filter.get(8 * pairs..).unwrap_or_default();
                *tail = arm_dsp::TailWeights::default();
                tail.iter_mut().zip(rest).for_each(|(t, &w)| *t = w);
            }
            tails.get(..block).unwrap_or_default()
        };
        for first in (0..pixels).step_by(QUAD) {
            // A last quad that runs past the end repeats the last pixel.
            let quad: [usize; QUAD] = core::array::from_fn(|i| (first + i).min(pixels - 1));
            for (slot, &pixel) in quad.iter().enumerate() {
                let (oy, ox) = (pixel / out_shape.width, pixel % out_shape.width);
                if direct {
                    // Group g's eight words start at 8 * g, twice the patch index of its first
                    // value; this pixel's two of them sit at 2 * slot.
                    let lanes_of_pixel = lanes.get_mut(2 * slot..).unwrap_or_default();
                    let (inside, runs) = patch_runs(conv, oy, ox);
                    if !inside {
                        pad_outside_taps(conv, oy, ox, lanes_of_pixel, pad_word);
                    }
                    for (p_start, x_start, run) in runs {
                        let widened = match (
                            input.get(x_start..x_start + run),
                            lanes_of_pixel.get_mut(2 * p_start..),
                        ) {
                            (Some(src), Some(dst)) => arm_dsp::widen::<{ 2 * QUAD }>(src, dst),
                            _ => false,
                        };
                        if !widened {
                            // An input or lanes shorter than the shapes say.
                            return conv2d_i8_portable(conv, requant, input, patch, output);
                        }
                    }
                } else {
                    scatter_patch(conv, oy, ox, input, lanes16_of(lanes), slot, pad);
                }
            }
            if !arm_dsp::dot_pixel_quad_filters(lanes, weights, len, pairs, tails, block, &mut sums)
            {
                // Weights shorter than the shapes say: the portable kernel's way with them.
                return conv2d_i8_portable(conv, requant, input, patch, output);
            }
            // The quad's real pixels are consecutive, so their outputs are one run of rows.
            let real = QUAD.min(pixels - first);
            let rows = output
                .get_mut(first * channels..(first + real) * channels)
                .unwrap_or_default();
            for (row, row_sums) in rows.chunks_exact_mut(channels.max(1)).zip(&sums) {
                let codes = row.get_mut(block_start..block_start + block);
                requantize_row(requant, scales, row_sums, codes.unwrap_or_default());
            }
        }
    }
    // The sigmoid table, if any, once over the finished codes.
    if requant.has_table() {
        let codes = output.iter_mut().take(pixels * channels);
        codes.for_each(|code| *code = requant.looked_up(*code));
    }
}

/// Fills the lanes of pixel (`oy`, `ox`)'s patch taps that fall outside the input with the
/// padding word, one pixel's two words per group (the DSP layout, input channels in fours).
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn pad_outside_taps(conv: &Conv<'_>, oy: usize, ox: usize, lanes: &mut [u32], pad_word: u32) {
    let (k, tap_groups) = (conv.geometry.kernel, conv.input.channels / 4);
    let (ky0, ky1, _) = conv.geometry.taps(oy, conv.input.height);
    let (kx0, kx1, _) = conv.geometry.taps(ox, conv.input.width);
    let mut fill = |taps: core::ops::Range<usize>| {
        let groups = lanes.chunks_mut(2 * QUAD).skip(tap_groups * taps.start);
        for words in groups.take(tap_groups * taps.len()) {
            words.iter_mut().take(2).for_each(|word| *word = pad_word);
        }
    };
    for ky in 0..k {
        let row = ky * k;
        if (ky0..ky1).contains(&ky) {
            fill(row..row + kx0);
            fill(row + kx1..row + k);
        } else {
            fill(row..row + k);
        }
    }
}

/// The lanes as int16 halves, two per word (little-endian: the low half first).
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn lanes16_of(lanes: &mut [u32]) -> &mut [u16] {
    bytemuck::try_cast_slice_mut(lanes).unwrap_or_default()
}

/// Writes pixel (`oy`, `ox`)'s patch into the lanes of `slot` value by value, for inputs whose
/// channels do not come in fours: patch value `i` (group `g = i / 4`, place `j = i % 4`) goes
/// to word `8g + 2 * slot + j % 2`, half `j / 2`, which is where `arm_dsp::widen` would put it.
/// Taps outside the input are the padding code.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn scatter_patch(
    conv: &Conv<'_>,
    oy: usize,
    ox: usize,
    input: &[i8],
    lanes16: &mut [u16],
    slot: usize,
    pad: i8,
) {
    let mut place = |i: usize, x: i8| {
        let (g, j) = (i / 4, i % 4);
        if let Some(half) = lanes16.get_mut(2 * (2 * QUAD * g + 2 * slot + j % 2) + j / 2) {
            *half = x as i16 as u16;
        }
    };
    let (inside, runs) = patch_runs(conv, oy, ox);
    if !inside {
        (0..patch_len(conv)).for_each(|i| place(i, pad));
    }
    for (p_start, x_start, run) in runs {
        let values = input.get(x_start..x_start + run).unwrap_or_default();
        for (i, &x) in (p_start..).zip(values) {
            place(i, x);
        }
    }
}

/// One pixel's output codes for a block of channels: each sum scaled by its channel, plus the
/// zero point, clamped (the sigmoid table comes later, over the whole layer).
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
#[inline(never)]
fn requantize_row(requant: &Requant<'_>, scales: &[ChannelScale], sums: &[i32], codes: &mut [i8]) {
    for ((code, scale), &sum) in codes.iter_mut().zip(scales).zip(sums) {
        *code = requant.clamped_code_ssat(scale.scaled(sum));
    }
}

/// int8 fully connected layer, weights `[out][in]`; `lanes` holds
/// [`dense_lane_words`]`(input.len())` words.
pub fn dense_i8(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    requant: &Requant<'_>,
    lanes: &mut [u32],
    output: &mut [i8],
) {
    #[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
    return dense_i8_dsp(input, weights, bias, requant, lanes, output);
    #[cfg(not(all(target_arch = "arm", feature = "arm-dsp")))]
    {
        let _ = lanes;
        dense_i8_portable(input, weights, bias, requant, output);
    }
}

/// [`dense_i8`] without the DSP extension: the reference.
#[doc(hidden)]
pub fn dense_i8_portable(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    requant: &Requant<'_>,
    output: &mut [i8],
) {
    for (o, (out, row)) in output
        .iter_mut()
        .zip(weights.chunks_exact(input.len().max(1)))
        .enumerate()
    {
        *out = requant.code(o, dot_i8(input, row), i32_at(bias_bytes(bias, o)));
    }
}

/// [`dense_i8`] with the DSP extension: the input widened once, rows three at a time.
#[cfg(all(target_arch = "arm", feature = "arm-dsp"))]
fn dense_i8_dsp(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    requant: &Requant<'_>,
    lanes: &mut [u32],
    output: &mut [i8],
) {
    let n = input.len();
    let groups = n / 4;
    // Lanes too short for the input: the portable kernel, rather than outputs left unwritten.
    if lanes.len() < dense_lane_words(n) {
        return dense_i8_portable(input, weights, bias, requant, output);
    }
    if !arm_dsp::widen::<2>(input, lanes) {
        return dense_i8_portable(input, weights, bias, requant, output);
    }
    let whole = groups * 4;
    let tail = input.get(whole..).unwrap_or_default();
    let outputs = output.len().min(weights.len() / n.max(1));
    // Rows three at a time; a last short triple repeats its last row.
    for first in (0..outputs).step_by(3) {
        let rows: [&[u8]; 3] = core::array::from_fn(|i| {
            let o = (first + i).min(outputs - 1);
            weights.get(o * n..(o + 1) * n).unwrap_or_default()
        });
        let Some(sums) = arm_dsp::dot_row_triple(lanes, rows, groups) else {
            // Weights shorter than the shapes say: the portable kernel's way with them.
            return dense_i8_portable(input, weights, bias, requant, output);
        };
        for (o, (row, sum)) in (first..outputs).zip(rows.into_iter().zip(sums)) {
            let sum = sum.wrapping_add(dot_i8_serial(tail, row.get(whole..).unwrap_or_default()));
            if let Some(out) = output.get_mut(o) {
                *out = requant.code(o, sum, i32_at(bias_bytes(bias, o)));
            }
        }
    }
}
