//! The int8 convolution and dense layer on the DSP extension (feature `arm-dsp` on an Arm
//! target): safe code that lays out the values and weights for the instructions of
//! [`arm_dsp`](super::arm_dsp) and falls back to the portable kernels whenever a buffer is not
//! what the shapes say.

use super::arm_dsp;
use super::layer::{
    Conv, QUAD, bias_bytes, conv_lane_words, dense_lane_words, i32_at, lanes16_of, patch_len,
    patch_runs,
};
use super::portable::{conv2d_i8_portable, dense_i8_portable, dot_i8_serial};
use super::requant::{ChannelScale, LongScale, Requant};

/// [`conv2d_i8`] with the DSP extension: output pixels four at a time, their patches widened
/// side by side into `lanes`, each filter's dot products with all four in one pass, up to
/// `arm_dsp::FILTERS` filters per call. Patch values go in pairs of groups of four; a filter's
/// last values short of a pair go in as its zero-filled tail weights. When the input channels
/// come in fours every patch run is whole groups, widened straight from the input; otherwise
/// each value is widened on its own into its place. Patches under eight values (which would
/// not fill one pair) take the portable kernel, as do lanes shorter than [`conv_lane_words`].
pub(super) fn conv2d_i8_dsp(
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
    let mut long_scales = [LongScale::default(); BLOCK];
    // The accumulators' bound for the long scales: `len` products of int8 values.
    let acc_bound = u32::try_from(len).map_or(u32::MAX, |len| len.saturating_mul(1 << 14));
    let mut tails = [arm_dsp::TailWeights::default(); BLOCK];
    for block_start in (0..channels).step_by(BLOCK) {
        let block = BLOCK.min(channels - block_start);
        let scales = scales.get_mut(..block).unwrap_or_default();
        let long_scales = long_scales.get_mut(..block).unwrap_or_default();
        let mut all_long = true;
        for (oc, (scale, long)) in
            (block_start..).zip(scales.iter_mut().zip(long_scales.iter_mut()))
        {
            *scale = requant.scale(oc, i32_at(bias_bytes(conv.bias, oc)));
            match scale.long_scale(requant, acc_bound) {
                Some(long_scale) => *long = long_scale,
                None => all_long = false,
            }
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
            let passes = arm_dsp::FilterPasses {
                lanes,
                weights,
                filter_len: len,
                pairs,
                tails,
                filters: block,
            };
            // Usually the block's codes straight from the assembly; a last short quad, or a
            // scale the folding cannot take, through the sums.
            if all_long && first + QUAD <= pixels {
                let columns = output
                    .get_mut(first * channels + block_start..)
                    .unwrap_or_default();
                if arm_dsp::dot_requantize_quad_filters(&passes, long_scales, columns, channels) {
                    continue;
                }
            }
            if !arm_dsp::dot_pixel_quad_filters(&passes, &mut sums) {
                // Weights shorter than the shapes say: the portable kernel's way with them.
                return conv2d_i8_portable(conv, requant, input, patch, output);
            }
            let place = (first, pixels, channels);
            requant.requantize_quad(output, place, block_start, scales, &sums);
        }
    }
    let layer = output.len().min(pixels * channels);
    requant.look_up_all(output.get_mut(..layer).unwrap_or_default());
}

/// Fills the lanes of pixel (`oy`, `ox`)'s patch taps that fall outside the input with the
/// padding word, one pixel's two words per group (the DSP layout, input channels in fours).
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

/// Writes pixel (`oy`, `ox`)'s patch into the lanes of `slot` value by value, for inputs whose
/// channels do not come in fours: patch value `i` (group `g = i / 4`, place `j = i % 4`) goes
/// to word `8g + 2 * slot + j % 2`, half `j / 2`, which is where `arm_dsp::widen` would put it.
/// Taps outside the input are the padding code.
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

/// [`dense_i8`] with the DSP extension: the input widened once, rows three at a time.
pub(super) fn dense_i8_dsp(
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
