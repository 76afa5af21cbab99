//! Inference kernels: conv2d and dense in f32 and int8, plus the one requantisation rule.
//!
//! Activations are HWC (channels last) and conv weights OHWI (`[out][ky][kx][in]`), as in
//! TFLite: the inner loop of every kernel is then a dot product of two contiguous runs. Weights
//! stay little-endian bytes read in place from the model file. Every access goes through
//! iterators or `get`, so a kernel cannot panic; shapes were validated when the model was parsed.
//!
//! One file per concern, as tract's linalg: `layer` (the layer as the kernels see it, its
//! patches and scratch words), `requant` (the rounding rule), `portable` (every kernel, the
//! reference), and per architecture an assembly module with the safe code that lays the layer
//! out for it: `arm_dsp` + `arm_dsp_layers` (the DSP extension's SMLAD: Cortex-M4, M7, M33 with
//! DSP; feature `arm-dsp`) and `arm_v6m` + `arm_v6m_layers` (Armv6-M Thumb, two products per
//! MULS: the Cortex-M0+; feature `arm-v6m`), the crate's only unsafe code. The build script
//! turns the features into the one cfg `arch_kernels` (Rust's `target_feature = "dsp"` is
//! unstable, so the build says it with a feature); [`conv2d_i8`] and [`dense_i8`] below are the
//! one place that chooses, and every form gives the portable results bit for bit.

#[cfg(arch_kernels = "arm_dsp")]
pub mod arm_dsp;
#[cfg(arch_kernels = "arm_dsp")]
mod arm_dsp_layers;
#[cfg(arch_kernels = "arm_v6m")]
pub mod arm_v6m;
#[cfg(arch_kernels = "arm_v6m")]
mod arm_v6m_layers;
#[cfg(feature = "kernel-cases")]
pub mod cases;
mod layer;
mod portable;
mod requant;

use core::ops::Range;

pub use crate::format::ConvGeometry;
use layer::rows_of;
pub use layer::{Conv, QUAD, conv_lane_words, dense_lane_words, patch_len, write_padded};
pub use portable::{
    conv2d_f32, conv2d_i8_portable, dense_f32, dense_i8_portable, dot_f32, dot_i8, dot_i8_lanes,
    dot_i8_pair, dot_i8_pair_unrolled, dot_i8_unrolled,
};
pub use requant::{
    ChannelScale, LongScale, QuadScale, Requant, mul_high, quantize_multiplier, requantize,
    scaled_from_high_word,
};

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
    conv2d_i8_part(conv, requant, input, patch, lanes, output, conv.pixels());
}

/// [`conv2d_i8`] for the output pixels of `pixels` only (row-major indices), their codes in
/// `output` from its start: two parts of a layer, each with its own `patch` and `lanes`, can
/// run at once (on two cores) and give the codes the whole layer gives.
pub fn conv2d_i8_part(
    conv: &Conv<'_>,
    requant: &Requant<'_>,
    input: &[i8],
    patch: &mut [i8],
    lanes: &mut [u32],
    output: &mut [i8],
    pixels: Range<usize>,
) {
    #[cfg(arch_kernels = "arm_dsp")]
    return arm_dsp_layers::conv2d_i8_dsp(conv, requant, input, patch, lanes, output, pixels);
    #[cfg(arch_kernels = "arm_v6m")]
    return arm_v6m_layers::conv2d_i8_v6m(conv, requant, input, patch, lanes, output, pixels);
    #[cfg(not(any(arch_kernels = "arm_dsp", arch_kernels = "arm_v6m")))]
    {
        let _ = lanes;
        portable::conv2d_i8_portable_part(conv, requant, input, patch, output, pixels);
    }
}

/// Output neurons the arch's dense kernel computes at once (a short last group repeats its
/// last row): where a split of a dense layer's neurons costs nothing extra.
pub const DENSE_ROWS: usize = if cfg!(arch_kernels = "arm_dsp") {
    3
} else if cfg!(arch_kernels = "arm_v6m") {
    2
} else {
    1
};

/// [`dense_i8`] for the output neurons of `neurons` only, their codes in `output` from its
/// start: two parts of a layer, each with its own `lanes`, can run at once (on two cores) and
/// give the codes the whole layer gives.
pub fn dense_i8_part(
    input: &[i8],
    weights: &[u8],
    bias: &[u8],
    requant: &Requant<'_>,
    lanes: &mut [u32],
    output: &mut [i8],
    neurons: Range<usize>,
) {
    let (weights, bias) = (
        rows_of(weights, input.len(), &neurons),
        rows_of(bias, 4, &neurons),
    );
    dense_i8(
        input,
        weights,
        bias,
        &requant.of_channels(neurons),
        lanes,
        output,
    );
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
    #[cfg(arch_kernels = "arm_dsp")]
    return arm_dsp_layers::dense_i8_dsp(input, weights, bias, requant, lanes, output);
    #[cfg(not(arch_kernels = "arm_dsp"))]
    let _ = lanes;
    #[cfg(arch_kernels = "arm_v6m")]
    return arm_v6m_layers::dense_i8_v6m(input, weights, bias, requant, output);
    #[cfg(not(any(arch_kernels = "arm_dsp", arch_kernels = "arm_v6m")))]
    dense_i8_portable(input, weights, bias, requant, output);
}
