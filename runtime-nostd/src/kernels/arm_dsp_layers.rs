//! The int8 convolution and dense layer on the DSP extension (feature `arm-dsp` on an Arm
//! target): safe code that lays out the values and weights for the instructions of
//! [`arm_dsp`](super::arm_dsp) and falls back to the portable kernels whenever a buffer is not
//! what the shapes say.

use super::arm_dsp;
use super::layer::{
    Conv, QUAD, bias_bytes, dense_lane_words, i32_at, lane_words, lanes16_of, patch_len, patch_runs,
};
use core::ops::Range;

use super::portable::{conv2d_i8_portable_part, dense_i8_portable, dot_i8_serial};
use super::requant::{ChannelScale, LongScale, Requant};

/// [`conv2d_i8`] with the DSP extension: output pixels four at a time, their patches widened
/// side by side into `lanes`, each filter's dot products with all four in one pass, up to
/// `arm_dsp::FILTERS` filters per call. Patch values go in pairs of groups of four; a filter's
/// last values short of a pair go in as its zero-filled tail weights. When the input channels
/// come in fours every patch run is whole groups, widened straight from the input. Otherwise
/// (a first layer's one channel) each row of taps is padded to whole groups, in the lanes and
/// in a copy of the block's filters with zero weights there ([`PaddedRows`]), so that an
/// inside pixel's rows are widened straight from the input too (the padding meets the next
/// input values, times zero); pixels at the borders are widened value by value, as are all
/// of a layer whose padded filters would not fit the copy. Patches under eight values (which
/// would not fill one pair) take the portable kernel, as do lanes shorter than the patches.
pub(super) fn conv2d_i8_dsp(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
    part: Range<usize>,
) {
    const _: () = assert!(QUAD == arm_dsp::PIXELS);
    const BLOCK: usize = arm_dsp::FILTERS;
    let len = patch_len(conv);
    let direct = conv.input.channels.is_multiple_of(4);
    let padded = (!direct)
        .then(|| PaddedRows::of(conv, lanes.len()))
        .flatten();
    // The patch as the lanes and the filters hold it: `lanes_len` values per pixel.
    let lanes_len = padded.map_or(len, |rows| rows.patch_len());
    let (pairs, tail_len) = (lanes_len / 8, lanes_len % 8);
    if pairs == 0 {
        return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
    }
    // Lanes too short for the patches: the portable kernel, rather than outputs left unwritten.
    let Some(lanes) = lanes.get_mut(..lane_words(lanes_len)) else {
        return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
    };
    let pad = requant.input_zero();
    let pad_word = arm_dsp::padding_word(pad);
    let out_shape = conv.output;
    // The part's pixels (`start..end`, row-major); `output` holds their codes.
    let end = part.end.min(out_shape.height * out_shape.width);
    let start = part.start.min(end);
    let channels = out_shape.channels;
    let mut sums = [[0i32; BLOCK]; QUAD];
    let mut scales = [ChannelScale::default(); BLOCK];
    let mut long_scales = [LongScale::default(); BLOCK];
    // The accumulators' bound for the long scales: `len` products of int8 values.
    let acc_bound = u32::try_from(len).map_or(u32::MAX, |len| len.saturating_mul(1 << 14));
    let mut tails = [arm_dsp::TailWeights::default(); BLOCK];
    let mut padded_weights = [0u8; PADDED_WEIGHTS];
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
        let weights = match padded {
            Some(rows) => rows.pad_filters(weights, &mut padded_weights),
            None => weights,
        };
        let tails = if tail_len == 0 {
            &[]
        } else {
            for (tail, filter) in tails.iter_mut().zip(weights.chunks_exact(lanes_len)) {
                let rest = filter.get(8 * pairs..).unwrap_or_default();
                *tail = arm_dsp::TailWeights::default();
                tail.iter_mut().zip(rest).for_each(|(t, &w)| *t = w);
            }
            tails.get(..block).unwrap_or_default()
        };
        for first in (start..end).step_by(QUAD) {
            // A last quad that runs past the end repeats the last pixel.
            let quad: [usize; QUAD] = core::array::from_fn(|i| (first + i).min(end - 1));
            // Padded rows of a quad inside one output row: its four patches at once; any other
            // quad pixel by pixel.
            let widened = padded.is_some_and(|rows| rows.widen_quad(conv, first, input, lanes));
            for (slot, &pixel) in quad.iter().enumerate().filter(|_| !widened) {
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
                            return conv2d_i8_portable_part(
                                conv, requant, input, patch, output, part,
                            );
                        }
                    }
                } else if let Some(rows) = padded {
                    rows.place_patch(conv, (oy, ox), input, lanes, slot, pad);
                } else {
                    scatter_patch(conv, oy, ox, input, lanes16_of(lanes), slot, pad);
                }
            }
            let passes = arm_dsp::FilterPasses {
                lanes,
                weights,
                filter_len: lanes_len,
                pairs,
                tails,
                filters: block,
            };
            // Usually the block's codes straight from the assembly; a last short quad, or a
            // scale the folding cannot take, through the sums.
            if all_long && first + QUAD <= end {
                let columns = output
                    .get_mut((first - start) * channels + block_start..)
                    .unwrap_or_default();
                if arm_dsp::dot_requantize_quad_filters(&passes, long_scales, columns, channels) {
                    continue;
                }
            }
            if !arm_dsp::dot_pixel_quad_filters(&passes, &mut sums) {
                // Weights shorter than the shapes say: the portable kernel's way with them.
                return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
            }
            let place = (first - start, end - start, channels);
            requant.requantize_quad(output, place, block_start, scales, &sums);
        }
    }
    let layer = output.len().min((end - start) * channels);
    requant.look_up_all(output.get_mut(..layer).unwrap_or_default());
}

/// Bytes of the copy of a block's filters with padded rows ([`PaddedRows`]): a 3x3 first
/// layer's 64 filters take 768.
const PADDED_WEIGHTS: usize = 1024;

/// A patch whose rows of taps (`kernel x channels` values) are not whole groups of four, laid
/// out with each row padded to the next whole group: `row` values per row in the lanes, the
/// padding's weights zero.
#[derive(Debug, Clone, Copy)]
struct PaddedRows {
    /// Values of a row of taps: kernel x input channels.
    taps: usize,
    /// The row in the lanes: `taps` rounded up to a multiple of four.
    row: usize,
    kernel: usize,
}

impl PaddedRows {
    /// The layout for `conv`, when `arm_dsp::FILTERS` of its padded filters fit the copy and
    /// four padded patches fit the `lane_words_there` words of lanes.
    fn of(conv: &Conv<'_>, lane_words_there: usize) -> Option<PaddedRows> {
        let kernel = conv.geometry.kernel;
        let taps = kernel.checked_mul(conv.input.channels)?;
        let row = taps.checked_next_multiple_of(4)?;
        let copy = kernel.checked_mul(row)?.checked_mul(arm_dsp::FILTERS)?;
        let fits = copy <= PADDED_WEIGHTS && lane_words(kernel * row) <= lane_words_there;
        fits.then_some(PaddedRows { taps, row, kernel })
    }

    /// Values of a patch in the lanes.
    fn patch_len(&self) -> usize {
        self.kernel * self.row
    }

    /// `weights`' filters with padded rows, in `copy`.
    fn pad_filters<'a>(&self, weights: &[u8], copy: &'a mut [u8; PADDED_WEIGHTS]) -> &'a [u8] {
        let filters = weights.len() / (self.kernel * self.taps).max(1);
        let copy = copy
            .get_mut(..filters * self.patch_len())
            .unwrap_or_default();
        for (padded, row) in copy
            .chunks_exact_mut(self.row)
            .zip(weights.chunks_exact(self.taps))
        {
            let (taps, padding) = padded.split_at_mut(self.taps);
            taps.copy_from_slice(row);
            padding.fill(0);
        }
        copy
    }

    /// Writes the patches of the quad of pixels from `first` on into the lanes at once when the
    /// four lie in one output row with all their taps inside the input: each pixel's patch
    /// starts `stride * channels` bytes after the previous one's. Whether it did.
    fn widen_quad(&self, conv: &Conv<'_>, first: usize, input: &[i8], lanes: &mut [u32]) -> bool {
        let width = conv.output.width;
        let (oy, ox) = (first / width.max(1), first % width.max(1));
        if ox + QUAD > width {
            return false;
        }
        let (inside, mut runs) = patch_runs(conv, oy, ox);
        let (last_inside, _) = patch_runs(conv, oy, ox + QUAD - 1);
        let Some((_, start, _)) = runs.next().filter(|_| inside && last_inside) else {
            return false;
        };
        let channels = conv.input.channels;
        let place = (
            start,
            conv.geometry.stride.saturating_mul(channels),
            conv.input.width.saturating_mul(channels),
        );
        arm_dsp::widen_quad_rows(input, place, (self.kernel, self.row / 4), lanes)
    }

    /// Writes pixel (`oy`, `ox`)'s patch into the lanes of `slot`: inside the input, each row
    /// widened straight from it (a whole padded row of input values); at the borders, every
    /// group the padding code first, then the taps inside value by value.
    fn place_patch(
        &self,
        conv: &Conv<'_>,
        (oy, ox): (usize, usize),
        input: &[i8],
        lanes: &mut [u32],
        slot: usize,
        pad: i8,
    ) {
        let (inside, runs) = patch_runs(conv, oy, ox);
        if inside {
            let mut widened = 0;
            for (ky, (_, x_start, _)) in runs.enumerate() {
                let dst = lanes.get_mut(2 * (ky * self.row) + 2 * slot..);
                if let (Some(src), Some(dst)) = (input.get(x_start..x_start + self.row), dst) {
                    widened += usize::from(arm_dsp::widen::<{ 2 * QUAD }>(src, dst));
                }
            }
            if widened == self.kernel {
                return;
            }
        }
        // Group g's pair of this pixel: words 8g + 2 * slot and the next.
        let pad_word = arm_dsp::padding_word(pad);
        for words in lanes.chunks_mut(2 * QUAD).take(self.patch_len() / 4) {
            words
                .iter_mut()
                .skip(2 * slot)
                .take(2)
                .for_each(|word| *word = pad_word);
        }
        let lanes16 = lanes16_of(lanes);
        for (p_start, x_start, run) in patch_runs(conv, oy, ox).1 {
            let start = p_start / self.taps * self.row + p_start % self.taps;
            let values = input.get(x_start..x_start + run).unwrap_or_default();
            for (i, &x) in (start..).zip(values) {
                place_value(lanes16, i, slot, x);
            }
        }
    }
}

/// Writes patch value `i` of `slot`'s pixel into the lanes as int16 halves: group `g = i / 4`,
/// place `j = i % 4` goes to word `8g + 2 * slot + j % 2`, half `j / 2`, which is where
/// `arm_dsp::widen` would put it.
fn place_value(lanes16: &mut [u16], i: usize, slot: usize, x: i8) {
    let (g, j) = (i / 4, i % 4);
    if let Some(half) = lanes16.get_mut(2 * (2 * QUAD * g + 2 * slot + j % 2) + j / 2) {
        *half = x as i16 as u16;
    }
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

/// Writes pixel (`oy`, `ox`)'s patch into the lanes of `slot` value by value ([`place_value`]),
/// for inputs whose channels do not come in fours and whose padded rows would not fit
/// [`PADDED_WEIGHTS`]. Taps outside the input are the padding code.
fn scatter_patch(
    conv: &Conv<'_>,
    oy: usize,
    ox: usize,
    input: &[i8],
    lanes16: &mut [u16],
    slot: usize,
    pad: i8,
) {
    let mut place = |i: usize, x: i8| place_value(lanes16, i, slot, x);
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
