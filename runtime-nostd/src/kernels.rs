//! Inference kernels: conv2d and dense in f32 and int8, plus the one requantisation rule.
//!
//! Activations are HWC (channels last) and conv weights OHWI (`[out][ky][kx][in]`), as in
//! TFLite: the inner loop of every kernel is then a dot product of two contiguous runs. Weights
//! stay little-endian bytes read in place from the model file. Every access goes through
//! iterators or `get`, so a kernel cannot panic; shapes were validated when the model was parsed.

use crate::format::{Activation, Shape};

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
    if cfg!(target_arch = "arm") {
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
    if cfg!(target_arch = "arm") {
        dot_i8_pair_unrolled(x, w0, w1)
    } else {
        (dot_i8(x, w0), dot_i8(x, w1))
    }
}

/// [`dot_i8_pair`] in one pass, eight products per filter and step (see [`dot_i8_unrolled`]).
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
    let (in_shape, out_shape, geometry) = (conv.input, conv.output, conv.geometry);
    let (c, k) = (in_shape.channels, geometry.kernel);
    let patch = patch.get_mut(..patch_len(conv)).unwrap_or_default();
    let filter_bytes = (patch.len() * X::WEIGHT_BYTES).max(1);
    for oy in 0..out_shape.height {
        let (ky0, ky1, iy0) = geometry.taps(oy, in_shape.height);
        for ox in 0..out_shape.width {
            let (kx0, kx1, ix0) = geometry.taps(ox, in_shape.width);
            patch.fill(pad_value);
            for (row, ky) in (ky0..ky1).enumerate() {
                let x_start = ((iy0 + row) * in_shape.width + ix0) * c;
                let p_start = (ky * k + kx0) * c;
                let run = (kx1 - kx0) * c;
                if let (Some(dst), Some(src)) = (
                    patch.get_mut(p_start..p_start + run),
                    input.get(x_start..x_start + run),
                ) {
                    dst.copy_from_slice(src);
                }
            }
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
    /// Output code of channel `channel` for `acc = sum(x*w)` and its int32 bias (the file's
    /// biases already hold `- input_zero * sum(w)`, see FORMAT.md).
    pub fn code(&self, channel: usize, acc: i32, bias: i32) -> i8 {
        let entry = self
            .table
            .get(channel * 8..channel * 8 + 8)
            .unwrap_or_default();
        let field = |at: usize| entry.get(at..at + 4).map_or(0, i32_at);
        let scaled = requantize(acc.wrapping_add(bias), field(0), field(4))
            .saturating_add(i32::from(self.output_zero));
        let code = scaled.clamp(i32::from(self.floor), i32::from(i8::MAX)) as i8;
        if self.lut.is_empty() {
            code
        } else {
            let index = usize::from(code.cast_unsigned() ^ 0x80);
            self.lut.get(index).map_or(0, |&b| b.cast_signed())
        }
    }
}

fn i32_at(bytes: &[u8]) -> i32 {
    bytes.try_into().map_or(0, i32::from_le_bytes)
}

/// int8 convolution, HWC codes in and out, int32 biases; `patch` holds [`patch_len`] codes.
/// Padding is filled with the input zero point, so it contributes exactly 0.
pub fn conv2d_i8(
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

/// int8 fully connected layer, weights `[out][in]`.
pub fn dense_i8(
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
