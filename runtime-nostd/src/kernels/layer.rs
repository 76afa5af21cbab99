//! A layer as the kernels see it: a convolution's shapes, geometry and weight bytes ([`Conv`]),
//! the im2col patch of an output pixel as runs of the input, the scratch words the DSP forms
//! widen values into, and the little-endian values read in place from the model file.

use crate::format::{ConvGeometry, Shape};
use core::ops::Range;

impl ConvGeometry {
    /// The kernel taps `[first, last)` that land inside an input of `len` for output position
    /// `out`, and the input index of the first one.
    pub(super) fn taps(&self, out: usize, len: usize) -> (usize, usize, usize) {
        let origin = out * self.stride; // input index of tap 0, plus `pad`
        let first = self.pad.saturating_sub(origin).min(self.kernel);
        let last = (len + self.pad)
            .saturating_sub(origin)
            .min(self.kernel)
            .max(first);
        (first, last, (origin + first).saturating_sub(self.pad))
    }
}

impl<'a> Conv<'a> {
    /// All of the layer's output pixels, row-major: what a kernel computes unless given a part.
    pub fn pixels(&self) -> core::ops::Range<usize> {
        0..self.output.height * self.output.width
    }

    /// The same convolution over its input with the padding written out around it
    /// ([`write_padded`]): no padding left, over an input `2 * pad` rows and columns larger.
    /// Every output pixel's patch then lies inside the input, which the arch kernels take on
    /// their fast paths. `None` without padding.
    pub fn over_padded_input(&self) -> Option<Conv<'a>> {
        let pad = self.geometry.pad;
        let both = pad.checked_mul(2).filter(|_| pad > 0)?;
        let input = Shape {
            height: self.input.height.checked_add(both)?,
            width: self.input.width.checked_add(both)?,
            ..self.input
        };
        let geometry = ConvGeometry {
            pad: 0,
            ..self.geometry
        };
        Some(Conv {
            input,
            geometry,
            ..*self
        })
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

pub(super) fn f32_at(bytes: &[u8]) -> f32 {
    bytes.try_into().map(f32::from_le_bytes).unwrap_or(0.0)
}

/// The bias of output `o` (f32 or i32 little-endian, 4 bytes each).
pub(super) fn bias_bytes(bias: &[u8], o: usize) -> &[u8] {
    bias.get(o * 4..o * 4 + 4).unwrap_or_default()
}

pub(super) fn i32_at(bytes: &[u8]) -> i32 {
    bytes.try_into().map_or(0, i32::from_le_bytes)
}

/// Values in one im2col patch of `conv`: what the caller's patch buffer must hold.
pub fn patch_len(conv: &Conv<'_>) -> usize {
    conv.geometry.kernel * conv.geometry.kernel * conv.input.channels
}

/// Output pixel (`oy`, `ox`)'s patch (`[ky][kx][c]`) as input runs: whether all k x k taps fall
/// inside the input (if not, the caller pads the patch first), and for each row of taps inside,
/// `(patch index, input index, values)`.
pub(super) fn patch_runs(
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

/// The lanes as int16 halves, two per word (little-endian: the low half first), as the arch
/// convolutions write their patches into them.
#[cfg(any(arch_kernels = "arm_dsp", arch_kernels = "arm_v6m"))]
pub(super) fn lanes16_of(lanes: &mut [u32]) -> &mut [u16] {
    bytemuck::try_cast_slice_mut(lanes).unwrap_or_default()
}

/// Output pixels the arch convolutions take at once.
pub const QUAD: usize = 4;

/// Words of widened int8 lanes (see `arm_dsp`) a convolution needs: four pixels' patches
/// rounded up to pairs of groups of four values, two words per group and pixel. The Armv6-M
/// forms pack the same four patches into two words per patch position, which fit. Part of
/// every int8 scratch, so its size is the same on every target.
pub fn conv_lane_words(conv: &Conv<'_>) -> usize {
    lane_words(patch_len(conv))
}

/// Words of widened lanes for four pixels' patches of `values` values each.
pub(super) fn lane_words(values: usize) -> usize {
    values.div_ceil(8) * 2 * 2 * QUAD
}

/// Words of widened int8 lanes a dense layer of `inputs` values needs: two per four values.
pub fn dense_lane_words(inputs: usize) -> usize {
    inputs / 4 * 2
}

/// Writes a `shape` tensor (HWC) into `room` inside a border of `pad` rows and columns of
/// `code`, the input of [`Conv::over_padded_input`]: `fill_row(y, row)` writes row `y`'s
/// codes. With the input zero point as `code` (what the padding stands for), that convolution
/// gives the codes the padded one gives, bit for bit. The written codes, or `None` when `room`
/// is too short. (Out of line: it is kernel work, and a board's profile counts it with the
/// kernels.)
#[inline(never)]
pub fn write_padded(
    mut fill_row: impl FnMut(usize, &mut [i8]),
    shape: Shape,
    pad: usize,
    code: i8,
    room: &mut [i8],
) -> Option<&[i8]> {
    let both = pad.checked_mul(2)?;
    let padded_width = shape.width.checked_add(both)?;
    let padded = Shape {
        height: shape.height.checked_add(both)?,
        width: padded_width,
        ..shape
    };
    let room = room.get_mut(..padded.checked_len()?)?;
    let (side, row) = (pad * shape.channels, shape.width * shape.channels);
    let rows = room.chunks_exact_mut((padded_width * shape.channels).max(1));
    for (y, padded_row) in rows.enumerate() {
        let (left, rest) = padded_row.split_at_mut(side.min(padded_row.len()));
        let (middle, right) = rest.split_at_mut(row.min(rest.len()));
        left.fill(code);
        right.fill(code);
        match y.checked_sub(pad).filter(|&y| y < shape.height) {
            Some(y) => fill_row(y, middle),
            None => middle.fill(code),
        }
    }
    Some(room)
}

/// The rows of `rows` in `bytes`, `width` bytes per row (as far as `bytes` goes): a part of a
/// layer's weights, biases or scale table, by output channel.
pub(super) fn rows_of<'a>(bytes: &'a [u8], width: usize, rows: &Range<usize>) -> &'a [u8] {
    let at = |row: usize| row.saturating_mul(width).min(bytes.len());
    bytes.get(at(rows.start)..at(rows.end)).unwrap_or_default()
}
