//! The portable kernels, the reference every other form equals bit for bit: f32 and int8
//! convolutions and dense layers, and the dot products in the forms that suit the target
//! (lanes that vectorise on a SIMD host, unrolled scalar steps on a Cortex-M).

use core::ops::Range;

use crate::format::Activation;

use super::layer::{Conv, bias_bytes, f32_at, i32_at, patch_len, patch_runs};
use super::requant::{Requant, SCALAR_CORE};

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
pub(super) fn dot_i8_serial(x: &[i8], w: &[u8]) -> i32 {
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

/// Copies the input runs of pixel (`oy`, `ox`) into `patch`, padded with `pad`.
pub(super) fn gather_patch<X: Copy>(
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

/// For every output pixel of `pixels` (row-major indices), gathers its input patch
/// (`[ky][kx][c]`, padding filled with `pad_value`) into `patch`, then hands the dot product of
/// the patch with every output channel's filter to `emit(output index, channel, sum)`, the
/// index counted from the range's first pixel. One long dot product per output keeps the
/// inner loop vectorised; the f32 and int8 convolutions share this walk.
fn conv_walk<X: PatchValue>(
    conv: &Conv<'_>,
    input: &[X],
    patch: &mut [X],
    pad_value: X,
    pixels: Range<usize>,
    mut emit: impl FnMut(usize, usize, X::Sum),
) {
    let out_shape = conv.output;
    let patch = patch.get_mut(..patch_len(conv)).unwrap_or_default();
    let filter_bytes = (patch.len() * X::WEIGHT_BYTES).max(1);
    let width = out_shape.width.max(1);
    for (at, pixel) in pixels.enumerate() {
        gather_patch(conv, pixel / width, pixel % width, input, patch, pad_value);
        let first = at * out_shape.channels;
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

/// f32 convolution, HWC in and out, with bias and activation; `patch` holds
/// [`patch_len`] values.
pub fn conv2d_f32(
    conv: &Conv<'_>,
    activation: Activation,
    input: &[f32],
    patch: &mut [f32],
    output: &mut [f32],
) {
    conv_walk(conv, input, patch, 0.0, conv.pixels(), |index, oc, acc| {
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

/// [`conv2d_i8`] without the DSP extension: the reference.
#[doc(hidden)]
pub fn conv2d_i8_portable(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    output: &mut [i8],
) {
    conv2d_i8_portable_part(conv, requant, input, patch, output, conv.pixels());
}

/// [`conv2d_i8_portable`] for the output pixels of `pixels` only, their codes in `output`.
pub(super) fn conv2d_i8_portable_part(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    output: &mut [i8],
    pixels: Range<usize>,
) {
    let pad = requant.input_zero();
    conv_walk(conv, input, patch, pad, pixels, |index, oc, acc| {
        if let Some(out) = output.get_mut(index) {
            *out = requant.code(oc, acc, i32_at(bias_bytes(conv.bias, oc)));
        }
    });
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
