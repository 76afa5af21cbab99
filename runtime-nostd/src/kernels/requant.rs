//! Requantisation, the one rounding rule of the int8 path: an accumulator to an output code,
//! per output channel, as the file's tables give it ([`Requant`], [`ChannelScale`]).

#[cfg(arch_kernels = "arm_dsp")]
use super::layer::QUAD;
use super::layer::{i32_at, rows_of};
use core::ops::Range;

/// An Arm core (Cortex-M): no vector unit and 13 general registers, so the scalar forms unrolled
/// by hand suit it; elsewhere the lane forms, which vectorise. With [`arm_dsp`] (`arm-dsp`
/// feature) the int8 convolution and dense layer take the DSP forms instead (`conv2d_i8`,
/// `dense_i8`).
pub(super) const SCALAR_CORE: bool = cfg!(target_arch = "arm");

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

    /// The same rule for the output channels of `channels` only, numbered from 0 there: what
    /// a kernel takes that computes a part of a layer's channels.
    pub fn of_channels(&self, channels: Range<usize>) -> Requant<'a> {
        Requant {
            table: rows_of(self.table, 8, &channels),
            ..*self
        }
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

    /// [`clamped_code`](Self::clamped_code) in the form that compiles to one `SSAT` on Arm
    /// with the DSP extension (and to two compares without): the floor is an int8 code, so
    /// clamping to the int8 range first and then raising to the floor is the same clamp. (The
    /// portable kernels keep the other form: on x86-64 this one stops LLVM vectorising the
    /// convolution's dot products, 2.5x slower per image.)
    #[cfg(arch_kernels = "arm_dsp")]
    #[inline]
    fn clamped_code_ssat(&self, scaled: i32) -> i8 {
        let code = scaled
            .saturating_add(i32::from(self.output_zero))
            .clamp(i32::from(i8::MIN), i32::from(i8::MAX));
        code.max(i32::from(self.floor)) as i8
    }

    /// A pixel quad's output codes for the block of channels from `block_start` on, one
    /// scale per channel, `sums[pixel][channel in the block]`: the arch convolutions take
    /// pixels four at a time. The quad starts at pixel `first` of `pixels`; its real pixels
    /// are consecutive, so their outputs are one run of rows of `channels` codes. The sigmoid
    /// table comes later, over the whole layer ([`look_up_all`](Self::look_up_all)).
    #[cfg(arch_kernels = "arm_dsp")]
    pub(super) fn requantize_quad<const BLOCK: usize>(
        &self,
        output: &mut [i8],
        (first, pixels, channels): (usize, usize, usize),
        block_start: usize,
        scales: &[ChannelScale],
        sums: &[[i32; BLOCK]; QUAD],
    ) {
        let real = QUAD.min(pixels.saturating_sub(first));
        let rows = output
            .get_mut(first * channels..(first + real) * channels)
            .unwrap_or_default();
        for (row, row_sums) in rows.chunks_exact_mut(channels.max(1)).zip(sums) {
            let codes = row.get_mut(block_start..block_start + scales.len());
            self.requantize_row(scales, row_sums, codes.unwrap_or_default());
        }
    }

    /// A finished layer's codes through the sigmoid table, if any.
    #[cfg(any(arch_kernels = "arm_dsp", arch_kernels = "arm_v6m"))]
    pub(super) fn look_up_all(&self, codes: &mut [i8]) {
        if self.has_table() {
            codes
                .iter_mut()
                .for_each(|code| *code = self.looked_up(*code));
        }
    }

    /// One pixel's output codes for a block of channels: each sum scaled by its channel, plus
    /// the zero point, clamped. Out of line, so that its loop keeps its values in registers.
    #[cfg(arch_kernels = "arm_dsp")]
    #[inline(never)]
    fn requantize_row(&self, scales: &[ChannelScale], sums: &[i32], codes: &mut [i8]) {
        for ((code, scale), &sum) in codes.iter_mut().zip(scales).zip(sums) {
            *code = self.clamped_code_ssat(scale.scaled(sum));
        }
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
        let acc = acc.wrapping_add(self.bias);
        // Without a long multiply (the Armv6-M kernels' cores), the usual case (n >= 33) from
        // the product's top word alone: floor((p + 2^(n-1)) / 2^n) is floor((floor(p / 2^32) +
        // 2^(n-33)) / 2^(n-32)), and |floor(p / 2^32)| <= 2^30 leaves room for the addend.
        if cfg!(arch_kernels = "arm_v6m")
            && let Some(rest) = self.n.checked_sub(33)
        {
            return scaled_from_high_word(acc, self.multiplier, rest);
        }
        // requantize's exact rounding, written so that the usual case (n >= 32: a multiplier
        // in [2^30, 2^31) and a scale below 1) is a 64-bit multiply-add and one 32-bit shift:
        // the product plus the rounding term is below 2^63, so its top word fits an i32 and
        // shifting that by n - 32 is the 64-bit shift by n, already within the i32 range.
        let product = i64::from(acc) * i64::from(self.multiplier) + self.rounding;
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

/// [`requantize`]`(acc, multiplier, 33 + rest)`'s value for `n = 33 + rest` (`rest <= 29`), through
/// [`mul_high`]: see [`ChannelScale::scaled`].
#[doc(hidden)] // public for the proptest that holds it to `requantize`
#[inline]
pub fn scaled_from_high_word(acc: i32, multiplier: i32, rest: u32) -> i32 {
    (mul_high(acc, multiplier) + (1 << rest)) >> (rest + 1)
}

/// A channel's requantisation in the form the Armv6-M convolution's assembly takes, four
/// pixels at a time ([`ChannelScale::quad_scale`]; `arm_v6m::dot_requantize_pixel_quad` loads
/// the fields in this order): the multiplier in 16-bit halves for [`mul_high_halves`], the
/// output zero point folded into the rounding term, the distance between one pixel's output
/// code and the next one's, and the biases to add to the packed halves' sums.
#[doc(hidden)] // public for the proptest that holds it to the rounding rule
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct QuadScale {
    multiplier_low: i32,
    multiplier_high: i32,
    rounding: i32,
    shift: u32,
    floor: i32,
    stride: usize,
    bias: i32,
    low_half_bias: i32,
}

impl ChannelScale {
    /// This scale for [`QuadScale::codes`], with `requant`'s zero point and floor, the codes of
    /// one pixel `stride` bytes after the previous one's; the sums of low halves get the bias
    /// plus `low_half_correction`. `None` for a scale of 1/4 or more (`n < 33`) or below
    /// 2^-22 (`n > 54`), which take [`scaled`](Self::scaled).
    pub fn quad_scale(
        &self,
        requant: &Requant<'_>,
        stride: usize,
        low_half_correction: i32,
    ) -> Option<QuadScale> {
        let rest = self.n.checked_sub(33).filter(|&rest| rest <= 21)?;
        // From the product's top word (|top| <= 2^30) the scaled value is
        // `(top + 2^rest) >> (rest + 1)`; adding `zero << (rest + 1)` before the shift adds the
        // zero point after it, exactly, and with `rest <= 21` the sum stays within an i32.
        let shift = rest + 1;
        Some(QuadScale {
            multiplier_low: self.multiplier & 0xffff,
            multiplier_high: self.multiplier >> 16,
            rounding: (1 << rest) + (i32::from(requant.output_zero) << shift),
            shift,
            floor: i32::from(requant.floor),
            stride,
            bias: self.bias,
            low_half_bias: self.bias.wrapping_add(low_half_correction),
        })
    }
}

impl QuadScale {
    /// The channel's int32 bias, which [`codes`](Self::codes) takes already added, and the
    /// one for sums of low halves (plus the correction [`ChannelScale::quad_scale`] took).
    pub fn packed_biases(&self) -> (i32, i32) {
        (self.bias, self.low_half_bias)
    }

    /// The distance between one pixel's output code and the next one's.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The output codes, before any sigmoid table, of accumulators with the bias added:
    /// [`Requant::clamped_code`]`(`[`ChannelScale::scaled`]`(acc))` for each `acc + bias`, bit
    /// for bit. The reference of the assembly, which computes the same steps.
    #[inline]
    pub fn codes<const N: usize>(&self, biased: [i32; N]) -> [i8; N] {
        biased.map(|acc| {
            let top = mul_high_halves(acc, self.multiplier_low, self.multiplier_high);
            let code = top.wrapping_add(self.rounding) >> self.shift;
            code.min(i32::from(i8::MAX)).max(self.floor) as i8
        })
    }
}

/// A channel's requantisation in the form the DSP convolution's assembly takes
/// ([`ChannelScale::long_scale`]; `arm_dsp::dot_requantize_quad_filters` loads the fields in
/// this order): the bias, the rounding term and the output zero point folded into one 64-bit
/// addend for `SMLAL`, whose top word shifted by `rest` is the code before its clamp.
#[doc(hidden)] // public for the proptest that holds it to the rounding rule
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct LongScale {
    multiplier: i32,
    addend_low: u32,
    addend_high: i32,
    rest: u32,
    floor: i32,
}

impl ChannelScale {
    /// This scale for [`LongScale::codes`], with `requant`'s zero point and floor, for
    /// accumulators of at most `acc_bound` in magnitude (a patch of `len` int8 products:
    /// `len * 2^14`). `None` where the folding would not be exact: a scale of 1/2 or more
    /// (`n < 32`), below 2^-22 (`n > 53`), or a bias that the accumulator could carry past the
    /// i32 range (`requantize` takes `acc + bias` wrapped).
    pub fn long_scale(&self, requant: &Requant<'_>, acc_bound: u32) -> Option<LongScale> {
        if !(32..=53).contains(&self.n)
            || i64::from(self.bias).abs() + i64::from(acc_bound) > i64::from(i32::MAX)
        {
            return None;
        }
        // With |acc + bias| < 2^31, |(acc + bias) * m| <= 2^62; the rounding term (<= 2^52) and
        // `zero << n` (|zero| <= 2^7, n <= 53: <= 2^60) keep the sum within an i64 and its top
        // word within an i32. `zero << n` before the floor shift adds `zero` after it, exactly.
        let addend = i64::from(self.bias) * i64::from(self.multiplier)
            + self.rounding
            + (i64::from(requant.output_zero) << self.n);
        Some(LongScale {
            multiplier: self.multiplier,
            addend_low: addend as u32,
            addend_high: (addend >> 32) as i32,
            rest: self.n - 32,
            floor: i32::from(requant.floor),
        })
    }
}

impl LongScale {
    /// The output codes, before any sigmoid table, of accumulators without the bias:
    /// [`Requant::clamped_code`]`(`[`ChannelScale::scaled`]`(acc))` for each, bit for bit,
    /// within the bound the scale was made for. The reference of the assembly, which computes
    /// the same steps: `SMLAL` into the addend, the top word shifted, `SSAT`, the floor.
    #[inline]
    pub fn codes<const N: usize>(&self, accs: [i32; N]) -> [i8; N] {
        let addend = i64::from(self.addend_high) << 32 | i64::from(self.addend_low);
        accs.map(|acc| {
            let top = ((i64::from(acc) * i64::from(self.multiplier) + addend) >> 32) as i32;
            let code = (top >> self.rest).clamp(i32::from(i8::MIN), i32::from(i8::MAX));
            code.max(self.floor) as i8
        })
    }
}

/// `floor(a * b / 2^32)` exactly, from four 16 x 16-bit products: on the Cortex-M0+ (Armv6-M,
/// no long multiply) the 64-bit product is a library call (`__aeabi_lmul`, about 55 cycles),
/// this four `MULS` and a dozen other instructions inline.
#[doc(hidden)] // public for the proptest that holds it to the i64 product
#[inline]
pub fn mul_high(a: i32, b: i32) -> i32 {
    mul_high_halves(a, b & 0xffff, b >> 16)
}

/// [`mul_high`] with `b` given as its halves `b & 0xffff` and `b >> 16`, as a channel's
/// multiplier is kept; the steps `arm_v6m::dot_requantize_pixel_quad` takes.
///
/// With `a = ah * 2^16 + al` (`al` the unsigned low half), `a * b = ah * bh * 2^32 +
/// (ah * bl + al * bh) * 2^16 + al * bl`. In units of 2^16, floored: `ah * bh * 2^16 + upper +
/// al * bh` with `upper = ah * bl + floor(al * bl / 2^16)`; splitting `upper` into its top and
/// low halves, the low half plus `al * bh` is `lower`, and the result is
/// `ah * bh + (upper >> 16) + (lower >> 16)`. Each of `upper` and `lower` is a product of a
/// 16-bit half by a value below 2^16 plus less than 2^16, within +-(2^31 - 2^15): no step
/// overflows.
#[inline]
fn mul_high_halves(a: i32, b_low: i32, b_high: i32) -> i32 {
    let (a_low, a_high) = (a & 0xffff, a >> 16);
    let low = ((a_low.cast_unsigned() * b_low.cast_unsigned()) >> 16).cast_signed();
    let upper = low + a_high * b_low;
    let lower = (upper & 0xffff) + a_low * b_high;
    (a_high * b_high)
        .wrapping_add(upper >> 16)
        .wrapping_add(lower >> 16)
}
