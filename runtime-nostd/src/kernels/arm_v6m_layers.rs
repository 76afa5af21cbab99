//! The int8 convolution on Armv6-M (feature `arm-v6m` on an Arm target without `arm-dsp`): safe
//! code that packs four pixels' patches for [`arm_v6m`](super::arm_v6m) and falls back to the
//! portable kernel whenever a buffer is not what the shapes say.

use super::arm_v6m::{self, HALVES_PER_POSITION, PIXELS, WORDS_PER_POSITION};
use super::layer::{Conv, QUAD, bias_bytes, i32_at, lanes16_of, patch_len};
use super::portable::{conv2d_i8_portable, gather_patch};
use super::requant::{ChannelScale, QuadScale, Requant};

/// Filters whose scales and weight sums are decoded at once, for every pixel quad.
const FILTERS: usize = 64;

/// [`conv2d_i8`](super::conv2d_i8) on Armv6-M: output pixels four at a time, their patches
/// packed side by side into `lanes` (two pixels per word, see `arm_v6m`), each filter's dot
/// products with all four in one pass. Lanes shorter than two words per patch position, or
/// weights shorter than the shapes say, take the portable kernel.
pub(super) fn conv2d_i8_v6m(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
) {
    const _: () = assert!(QUAD == PIXELS);
    let len = patch_len(conv);
    let (Some(lanes), Some(pixel_patch)) = (
        lanes.get_mut(..len * WORDS_PER_POSITION),
        patch.get_mut(..len),
    ) else {
        return conv2d_i8_portable(conv, requant, input, patch, output);
    };
    let out_shape = conv.output;
    let pixels = out_shape.height * out_shape.width;
    let channels = out_shape.channels;
    if len == 0 || conv.weights.len() < channels * len {
        return conv2d_i8_portable(conv, requant, input, patch, output);
    }
    let pad = requant.input_zero();
    let mut scales = [ChannelScale::default(); FILTERS];
    let mut quad_scales: [Option<QuadScale>; FILTERS] = [None; FILTERS];
    let mut weight_sums = [0i32; FILTERS];
    for block_start in (0..channels).step_by(FILTERS) {
        let block = FILTERS.min(channels - block_start);
        let weights = conv
            .weights
            .get(block_start * len..(block_start + block) * len)
            .unwrap_or_default();
        let filters = weights.chunks_exact(len);
        let scales = scales.get_mut(..block).unwrap_or_default();
        let decoded = scales
            .iter_mut()
            .zip(&mut quad_scales)
            .zip(&mut weight_sums);
        for (oc, (((scale, quad_scale), sum), filter)) in
            (block_start..).zip(decoded.zip(filters.clone()))
        {
            *scale = requant.scale(oc, i32_at(bias_bytes(conv.bias, oc)));
            *sum = arm_v6m::weight_sum(filter);
            *quad_scale = scale.quad_scale(requant, channels, arm_v6m::low_half_correction(*sum));
        }
        let (height, width) = (out_shape.height, out_shape.width);
        let mut positions = (0..height).flat_map(|oy| (0..width).map(move |ox| (oy, ox)));
        let mut last = (0, 0);
        for first in (0..pixels).step_by(QUAD) {
            for pack in PACK_SLOT {
                // A last quad that runs past the end repeats the last pixel.
                let (oy, ox) = positions.next().unwrap_or(last);
                last = (oy, ox);
                gather_patch(conv, oy, ox, input, pixel_patch, pad);
                pack(pixel_patch, lanes16_of(lanes));
            }
            // Each filter's four sums are requantised at once, its scale loaded once for them,
            // into the quad's rows of output codes (a last quad's repeats are not written).
            let real = QUAD.min(pixels - first);
            let rows = output
                .get_mut(first * channels..(first + real) * channels)
                .unwrap_or_default();
            let filter_scales = scales.iter().zip(&quad_scales);
            for (oc, ((filter, &weight_sum), (scale, quad_scale))) in
                (block_start..).zip(filters.clone().zip(&weight_sums).zip(filter_scales))
            {
                let column = rows.get_mut(oc..).unwrap_or_default();
                // Usually dot products and requantisation in one block, which writes the codes.
                if let Some(quad_scale) = quad_scale
                    && arm_v6m::dot_requantize_pixel_quad(lanes, filter, quad_scale, column)
                        .is_some()
                {
                    continue;
                }
                let Some(quad) = arm_v6m::dot_pixel_quad(lanes, filter) else {
                    return conv2d_i8_portable(conv, requant, input, patch, output);
                };
                let sums = quad.exact(weight_sum);
                let codes = match quad_scale {
                    Some(quad_scale) => {
                        let (bias, _) = quad_scale.packed_biases();
                        quad_scale.codes(sums.map(|sum| sum.wrapping_add(bias)))
                    }
                    None => sums.map(|sum| requant.clamped_code(scale.scaled(sum))),
                };
                for (slot, code) in column.iter_mut().step_by(channels.max(1)).zip(codes) {
                    *slot = code;
                }
            }
        }
    }
    let layer = output.len().min(pixels * channels);
    requant.look_up_all(output.get_mut(..layer).unwrap_or_default());
}

/// Codes a pixel's patch into its slot's halves of the lanes.
type PackSlot = fn(&[i8], &mut [u16]);

/// [`pack_slot`] for each slot of a quad.
const PACK_SLOT: [PackSlot; QUAD] = [
    pack_slot::<0>,
    pack_slot::<1>,
    pack_slot::<2>,
    pack_slot::<3>,
];

/// Codes a pixel's gathered patch into the lanes of slot `SLOT`, as [`arm_v6m::packed_code`]
/// says. (The slot is a constant so that the coding and the place in each position's halves
/// are fixed in the loop.)
fn pack_slot<const SLOT: usize>(patch: &[i8], lanes16: &mut [u16]) {
    for (halves, &value) in lanes16.chunks_exact_mut(HALVES_PER_POSITION).zip(patch) {
        if let Some(half) = halves.get_mut(SLOT) {
            *half = arm_v6m::packed_code(SLOT, value);
        }
    }
}
