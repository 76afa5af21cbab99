//! The int8 convolution and dense layer on Armv6-M (feature `arm-v6m` on an Arm target without
//! `arm-dsp`): safe code that packs four pixels' patches and decodes the channels' scales for
//! [`arm_v6m`](super::arm_v6m), and falls back to the portable kernel whenever a buffer is not
//! what the shapes say.

use super::arm_v6m::{self, HALVES_PER_POSITION, PIXELS, WORDS_PER_POSITION};
use super::layer::{Conv, QUAD, bias_bytes, i32_at, lanes16_of, patch_len, patch_runs};
use core::ops::Range;

use super::portable::{conv2d_i8_portable_part, dot_i8, dot_i8_pair, gather_patch};
use super::requant::{ChannelScale, QuadScale, Requant};

/// Filters whose scales and weight sums are decoded at once, for every pixel quad.
const FILTERS: usize = 64;

/// [`conv2d_i8`](super::conv2d_i8) on Armv6-M: output pixels four at a time, their patches
/// packed side by side into `lanes` (two pixels per word, see `arm_v6m`), each filter's dot
/// products with all four in one pass and their codes right after, a block of filters per
/// call. A last quad of fewer than four pixels, or a channel whose scale the assembly does not
/// take ([`ChannelScale::quad_scale`]), goes one filter at a time with the requantisation in
/// Rust. Lanes shorter than two words per patch position, or weights shorter than the shapes
/// say, take the portable kernel.
pub(super) fn conv2d_i8_v6m(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
    part: Range<usize>,
) {
    const _: () = assert!(QUAD == PIXELS);
    let len = patch_len(conv);
    let (Some(lanes), Some(pixel_patch)) = (
        lanes.get_mut(..len * WORDS_PER_POSITION),
        patch.get_mut(..len),
    ) else {
        return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
    };
    let out_shape = conv.output;
    // The part's pixels (`start..end`, row-major); `output` holds their codes.
    let end = part.end.min(out_shape.height * out_shape.width);
    let start = part.start.min(end);
    let channels = out_shape.channels;
    if len == 0 || conv.weights.len() < channels * len {
        return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
    }
    let pad = requant.input_zero();
    let mut scales = [ChannelScale::default(); FILTERS];
    let mut quad_scales = [QuadScale::default(); FILTERS];
    let mut weight_sums = [0i32; FILTERS];
    for block_start in (0..channels).step_by(FILTERS) {
        let block = FILTERS.min(channels - block_start);
        let weights = conv
            .weights
            .get(block_start * len..(block_start + block) * len)
            .unwrap_or_default();
        let filters = weights.chunks_exact(len);
        let scales = scales.get_mut(..block).unwrap_or_default();
        let quad_scales = quad_scales.get_mut(..block).unwrap_or_default();
        let mut all_quad = true;
        let decoded = scales
            .iter_mut()
            .zip(quad_scales.iter_mut())
            .zip(&mut weight_sums);
        for (oc, (((scale, quad_scale), sum), filter)) in
            (block_start..).zip(decoded.zip(filters.clone()))
        {
            *scale = requant.scale(oc, i32_at(bias_bytes(conv.bias, oc)));
            *sum = arm_v6m::weight_sum(filter);
            let correction = arm_v6m::low_half_correction(*sum);
            match scale.quad_scale(requant, channels, correction) {
                Some(quad) => *quad_scale = quad,
                None => all_quad = false,
            }
        }
        // Row and column stepped, not divided out per pixel: the Cortex-M0+ has no divider.
        let width = out_shape.width.max(1);
        let (mut oy, mut ox) = (start / width, start % width);
        let mut positions = (start..end).map(|_| {
            let here = (oy, ox);
            ox += 1;
            if ox == width {
                (oy, ox) = (oy + 1, 0);
            }
            here
        });
        let mut last = (0, 0);
        for first in (0..end - start).step_by(QUAD) {
            let quad: [(usize, usize); QUAD] = core::array::from_fn(|_| {
                // A last quad that runs past the end repeats the last pixel.
                last = positions.next().unwrap_or(last);
                last
            });
            for (word, pair) in quad.chunks_exact(2).enumerate() {
                let &[a, b] = pair else { continue };
                if pack_pair_inside(conv, (a, b), input, lanes, word).is_none() {
                    for (slot, (oy, ox)) in (2 * word..).zip([a, b]) {
                        gather_patch(conv, oy, ox, input, pixel_patch, pad);
                        pack_slot(slot, pixel_patch, lanes16_of(lanes));
                    }
                }
            }
            // The quad's rows of output codes (a last quad's repeats are not written), from
            // column `block_start` on.
            let real = QUAD.min(end - start - first);
            let columns = output
                .get_mut(first * channels + block_start..(first + real) * channels)
                .unwrap_or_default();
            // Usually the whole block's dot products and requantisation in one call.
            if all_quad
                && real == QUAD
                && arm_v6m::dot_requantize_filters(lanes, weights, len, quad_scales, columns)
                    .is_some()
            {
                continue;
            }
            let decoded = filters.clone().zip(&weight_sums).zip(scales.iter());
            for (column, ((filter, &weight_sum), scale)) in (0..block).zip(decoded) {
                let Some(quad) = arm_v6m::dot_pixel_quad(lanes, filter) else {
                    return conv2d_i8_portable_part(conv, requant, input, patch, output, part);
                };
                let codes = quad
                    .exact(weight_sum)
                    .map(|sum| requant.clamped_code(scale.scaled(sum)));
                let slots = columns.get_mut(column..).unwrap_or_default();
                for (slot, code) in slots.iter_mut().step_by(channels.max(1)).zip(codes) {
                    *slot = code;
                }
            }
        }
    }
    let layer = output.len().min((end - start) * channels);
    requant.look_up_all(output.get_mut(..layer).unwrap_or_default());
}

/// [`dense_i8`](super::dense_i8) on Armv6-M: output neurons two at a time, each input value
/// loaded once for both ([`arm_v6m::dot_pair`]; [`dot_i8_pair`] where it refuses, for an empty
/// input); an odd last neuron alone. The same codes as the
/// portable kernel, which walks the neurons one by one.
pub(super) fn dense_i8_v6m(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    requant: &Requant<'_>,
    output: &mut [i8],
) {
    let inputs = input.len().max(1);
    let code = |o: usize, sum: i32| requant.code(o, sum, i32_at(bias_bytes(bias, o)));
    let pairs = output.chunks_mut(2).zip(weights.chunks(2 * inputs));
    for (first, (outputs, rows)) in (0..).step_by(2).zip(pairs) {
        let mut rows = rows.chunks_exact(inputs);
        match (outputs, rows.next(), rows.next()) {
            ([output_0, output_1], Some(row_0), Some(row_1)) => {
                let (sum_0, sum_1) = arm_v6m::dot_pair(input, row_0, row_1)
                    .unwrap_or_else(|| dot_i8_pair(input, row_0, row_1));
                *output_0 = code(first, sum_0);
                *output_1 = code(first + 1, sum_1);
            }
            ([output_0, ..], Some(row_0), _) => *output_0 = code(first, dot_i8(input, row_0)),
            _ => {}
        }
    }
}

/// Codes a pixel's gathered patch into the lanes of its slot, as [`arm_v6m::packed_code`]
/// says.
fn pack_slot(slot: usize, patch: &[i8], lanes16: &mut [u16]) {
    const PACK_SLOT: [PackSlot; QUAD] = [
        pack_slot_of::<0>,
        pack_slot_of::<1>,
        pack_slot_of::<2>,
        pack_slot_of::<3>,
    ];
    if let Some(pack) = PACK_SLOT.get(slot) {
        pack(patch, lanes16);
    }
}

/// Codes a pixel's gathered patch into the lanes' halves of one slot.
type PackSlot = fn(&[i8], &mut [u16]);

/// Codes a run of two pixels' patches, read from the input, into the lanes' words of one pair.
type PackPair = fn(&[i8], &[i8], &mut [u32]);

/// [`pack_slot`] for slot `SLOT`, a constant so that the coding and the place in each
/// position's halves are fixed in the loop.
fn pack_slot_of<const SLOT: usize>(patch: &[i8], lanes16: &mut [u16]) {
    for (halves, &value) in lanes16.chunks_exact_mut(HALVES_PER_POSITION).zip(patch) {
        if let Some(half) = halves.get_mut(SLOT) {
            *half = arm_v6m::packed_code(SLOT, value);
        }
    }
}

/// Packs two output pixels' patches, read straight from the input, into word `word` of each
/// patch position (the pixels of slots `2 * word` and `2 * word + 1`): one word store per
/// two values, no gathered copy. `None`, writing nothing, unless both patches lie wholly
/// inside the input (no padding), which the borders' pixels then take [`pack_slot`] for.
fn pack_pair_inside(
    conv: &Conv<'_>,
    ((ay, ax), (by, bx)): ((usize, usize), (usize, usize)),
    input: &[i8],
    lanes: &mut [u32],
    word: usize,
) -> Option<()> {
    const PACK_PAIR: [PackPair; WORDS_PER_POSITION] = [pack_pair_of::<0>, pack_pair_of::<1>];
    let pack = PACK_PAIR.get(word)?;
    let (a_inside, a_runs) = patch_runs(conv, ay, ax);
    let (b_inside, b_runs) = patch_runs(conv, by, bx);
    if !(a_inside && b_inside) {
        return None;
    }
    // Both inside: the same runs of the patch, from different places in the input.
    for ((patch_start, a_start, run), (_, b_start, _)) in a_runs.zip(b_runs) {
        let words = patch_start * WORDS_PER_POSITION..(patch_start + run) * WORDS_PER_POSITION;
        pack(
            input.get(a_start..a_start + run)?,
            input.get(b_start..b_start + run)?,
            lanes.get_mut(words)?,
        );
    }
    Some(())
}

/// [`pack_pair_inside`]'s word `WORD` of each position for one run of both patches.
fn pack_pair_of<const WORD: usize>(a: &[i8], b: &[i8], lanes: &mut [u32]) {
    for (position, (&a, &b)) in lanes
        .chunks_exact_mut(WORDS_PER_POSITION)
        .zip(a.iter().zip(b))
    {
        if let Some(packed) = position.get_mut(WORD) {
            let low = arm_v6m::packed_code(2 * WORD, a);
            let high = arm_v6m::packed_code(2 * WORD + 1, b);
            *packed = u32::from(low) | (u32::from(high) << 16);
        }
    }
}
