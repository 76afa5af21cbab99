//! int8 dot products in Armv6-M's Thumb instructions (Cortex-M0, M0+: the RP2040), which every
//! M-profile core runs: no DSP extension, but a single-cycle 32-bit `MULS` on the M0+ of the
//! RP2040, 2-cycle loads, and eight low registers for loads and arithmetic, with the high ones
//! (r8-r12) only for moves and additions.
//!
//! Two products per multiply: a "packed" word holds two pixels' values of one patch position,
//! `(a + 128) + 65536 * b` (the first biased to `0..=255`, so the halves do not borrow from each
//! other). One `MULS` of the word by a weight `w` gives `(a + 128) * w + 65536 * b * w`, and an
//! arithmetic shift of the word by 16 gives `b` exactly. Summed over the patch in wrapping i32s,
//! `P = sum((a + 128) * w) + 65536 * sum(b * w)` and `H = sum(b * w)`; so `sum(b * w) = H` and
//! `sum(a * w) = P - 65536 * H - 128 * sum(w)`, bit for bit the portable kernels' wrapping sums
//! (these are identities modulo 2^32). [`PixelQuadSums::exact`] undoes the packing.
//!
//! [`dot_requantize_filters`] runs a block of filters over four pixels and requantises each
//! filter's four sums right after them, in the same assembly (the product with the channel's
//! multiplier from 16-bit halves: the M0+ has no long multiply); [`dot_pair`] is the dense
//! layers' loop, two neurons per pass.
//!
//! This is the crate's second and last unsafe module, inline assembly for the same reason as
//! `arm_dsp`: the loop needs its four accumulators in high registers and every low one for
//! pointers and products, and LLVM, given the same loop in Rust, spills to the stack (about
//! 7 instructions per product, against 4.75 here; the requantisation in Rust took about 100
//! cycles per output code, here 31). The safe wrapper checks the slices before the
//! block runs and returns `None`, running nothing, when they disagree; its caller then takes the
//! portable kernel. The portable kernels stay the reference: the QEMU kernel check
//! (`firmware/qemu`, bin `kernel-check`, built for thumbv6m) holds this form to them bit for bit
//! on random shapes.
#![allow(unsafe_code)]

use core::arch::asm;

use super::requant::QuadScale;

/// Pixels one call takes: two packed words per patch position.
pub const PIXELS: usize = 4;

/// Lane words per patch position: two packed words (pixels 0 and 1, then 2 and 3).
pub const WORDS_PER_POSITION: usize = PIXELS / 2;

/// Halfwords of the lanes (little-endian: a word's low half first) per patch position: pixel
/// `slot`'s value at position `p` is at halfword `HALVES_PER_POSITION * p + slot`.
pub const HALVES_PER_POSITION: usize = 2 * WORDS_PER_POSITION;

/// How pixel `slot`'s value is coded in its halfword: the low half of a packed word (even
/// slots) holds `value + 128`, the high half (odd slots) the value sign-extended.
#[inline]
pub fn packed_code(slot: usize, value: i8) -> u16 {
    if slot.is_multiple_of(2) {
        u16::from(value.cast_unsigned() ^ 0x80)
    } else {
        i16::from(value).cast_unsigned()
    }
}

/// The raw accumulators of one filter over four packed pixels: `P` and `H` (module docs) of
/// pixels 0-1, then of pixels 2-3.
#[derive(Debug, Clone, Copy)]
pub struct PixelQuadSums {
    packed_low: i32,
    high: i32,
    packed_low_2: i32,
    high_2: i32,
}

impl PixelQuadSums {
    /// The four pixels' dot products with the filter, given `sum(w)` over the filter.
    pub fn exact(self, weight_sum: i32) -> [i32; PIXELS] {
        let correction = low_half_correction(weight_sum);
        let low = |packed: i32, high: i32| {
            packed
                .wrapping_sub(high.wrapping_shl(16))
                .wrapping_add(correction)
        };
        [
            low(self.packed_low, self.high),
            self.high,
            low(self.packed_low_2, self.high_2),
            self.high_2,
        ]
    }
}

/// What the sums of low halves need added to undo their `+ 128` coding (module docs): the
/// `- 128 * sum(w)` that [`PixelQuadSums::exact`] subtracts, for [`dot_requantize_pixel_quad`].
pub fn low_half_correction(weight_sum: i32) -> i32 {
    weight_sum.wrapping_mul(-128)
}

/// `sum(w)` over a filter's int8 weights: what [`PixelQuadSums::exact`] takes back out.
pub fn weight_sum(filter: &[u8]) -> i32 {
    filter
        .iter()
        .fold(0i32, |sum, &w| sum.wrapping_add(i32::from(w.cast_signed())))
}

/// One patch position: the weight is in r3; the two packed words come from the lanes pointer
/// r2, each multiplied whole into its `P` accumulator and shifted by 16 into its `H` one.
macro_rules! position {
    () => {
        concat!(
            "ldrsb r3, [r1, r0]\n",
            "ldm r2!, {{r4}}\n",
            "asrs r5, r4, #16\n",
            "muls r5, r3, r5\n",
            "add r9, r5\n",
            "muls r4, r3, r4\n",
            "add r8, r4\n",
            "ldm r2!, {{r4}}\n",
            "asrs r5, r4, #16\n",
            "muls r5, r3, r5\n",
            "add r11, r5\n",
            "muls r4, r3, r4\n",
            "add r10, r4\n",
            "adds r0, #1\n",
        )
    };
}

/// One filter's raw sums over four pixels' packed patches, `P` and `H` of pixels 0-1 and 2-3,
/// into r0-r3: r0 counts from `-len` up to zero, r1 points one past the filter, r2 at the
/// lanes. The accumulators are r8-r11, zeroed first; an odd `len` enters the doubled loop at
/// its second position (`lsls` leaves Z clear for an odd index), so the index reaches 0 only
/// after a second position, where `bne` tests it. r4 and r5 are scratch.
macro_rules! quad_sums {
    () => {
        concat!(
            "movs r3, #0\n",
            "mov r8, r3\n",
            "mov r9, r3\n",
            "mov r10, r3\n",
            "mov r11, r3\n",
            "lsls r3, r0, #31\n",
            "bne 3f\n",
            "2:\n",
            position!(),
            "3:\n",
            position!(),
            "bne 2b\n",
            "mov r0, r8\n",
            "mov r1, r9\n",
            "mov r2, r10\n",
            "mov r3, r11\n",
        )
    };
}

/// One filter's dot products with four pixels' packed patches: `lanes` holds
/// [`WORDS_PER_POSITION`] words per patch position (at least `filter.len()` positions), as
/// [`packed_code`] codes them. `None`, running nothing, for an empty filter or short lanes.
/// 19 cycles per position (four products) on the Cortex-M0+, 17.5 with the loop's branch and
/// counter shared by two positions.
pub fn dot_pixel_quad(lanes: &[u32], filter: &[u8]) -> Option<PixelQuadSums> {
    let len = filter.len();
    if len == 0 || lanes.len() < len.checked_mul(WORDS_PER_POSITION)? {
        return None;
    }
    let (packed_low, high, packed_low_2, high_2): (i32, i32, i32, i32);
    // SAFETY: the index r0 runs from -len up to 0, so the weight loads `[r1 + r0]` (r1 one past
    // the filter's end) read exactly the filter's `len` bytes; each position loads two words of
    // `lanes` from r2 upwards, `2 * len` words in all, within `lanes` (checked above). `len` is
    // at least 1: an odd `len` enters the doubled loop at its second position (`lsls` leaves Z
    // clear for an odd index), so the index reaches 0 only after a second position, where
    // `bne` tests it. The accumulators are r8-r11, which Thumb's `ADD` and `MOV` reach but which
    // Rust lets Thumb-1 code name only as clobbers: they are zeroed first and moved to r0-r3,
    // the outputs, last. r4 and r5 are clobbers; everything written is declared.
    unsafe {
        asm!(
            quad_sums!(),
            inout("r0") 0u32.wrapping_sub(len as u32) => packed_low,
            inout("r1") filter.as_ptr_range().end => high,
            inout("r2") lanes.as_ptr() => packed_low_2,
            out("r3") high_2,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            options(nostack, readonly),
        );
    }
    Some(PixelQuadSums {
        packed_low,
        high,
        packed_low_2,
        high_2,
    })
}

/// One input value of [`dot_pair`]: `x` in r4, each row's weight in r5 in turn, the products
/// into r8 and r9; the index r0 counts up to zero.
macro_rules! pair_input {
    () => {
        concat!(
            "ldrsb r4, [r1, r0]\n",
            "ldrsb r5, [r2, r0]\n",
            "muls r5, r4, r5\n",
            "add r8, r5\n",
            "ldrsb r5, [r3, r0]\n",
            "muls r5, r4, r5\n",
            "add r9, r5\n",
            "adds r0, #1\n",
        )
    };
}

/// Two int8 dot products over the same `x` (two neurons of a dense layer): `sum(x * w0)` and
/// `sum(x * w1)` in wrapping i32s, the portable kernels' sums, each `x` loaded once for both;
/// 12 cycles per two products on the Cortex-M0+. `None`, running nothing, for an empty `x` or
/// rows shorter than it.
pub fn dot_pair(x: &[i8], w0: &[u8], w1: &[u8]) -> Option<(i32, i32)> {
    let len = x.len();
    if len == 0 || w0.len() < len || w1.len() < len {
        return None;
    }
    let (sum_0, sum_1): (i32, i32);
    // SAFETY: the index r0 runs from -len up to 0 and r1-r3 point one past the first `len`
    // values of `x`, `w0` and `w1` (each at least that long, checked above), so every load
    // reads within them; as in `dot_pixel_quad`, an odd `len` enters the doubled loop at its
    // second input, and the loop ends when the index reaches 0. The sums are r8 and r9, zeroed
    // first and moved to r0 and r1 last; r4 and r5 are clobbers.
    unsafe {
        asm!(
            "movs r4, #0",
            "mov r8, r4",
            "mov r9, r4",
            "lsls r4, r0, #31",
            "bne 3f",
            "2:",
            pair_input!(),
            "3:",
            pair_input!(),
            "bne 2b",
            "mov r0, r8",
            "mov r1, r9",
            inout("r0") 0u32.wrapping_sub(len as u32) => sum_0,
            inout("r1") x.as_ptr_range().end => sum_1,
            in("r2") w0.as_ptr().wrapping_add(len),
            in("r3") w1.as_ptr().wrapping_add(len),
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            options(nostack, readonly),
        );
    }
    Some((sum_0, sum_1))
}

/// One pixel's output code, from its biased accumulator on the stack (popped) into `[r1]` (r1
/// moves on by the stride): the scale's fields are in r8-r12 and lr, as
/// [`dot_requantize_pixel_quad`] loads them; the steps are `QuadScale::codes`'.
macro_rules! requantized_pixel {
    () => {
        concat!(
            // r2 = al, r0 = ah: the accumulator's halves.
            "pop {{r0}}\n",
            "uxth r2, r0\n",
            "asrs r0, r0, #16\n",
            // upper = ah * bl + floor(al * bl / 2^16), in r4.
            "mov r3, r8\n",
            "movs r4, r3\n",
            "muls r4, r2, r4\n",
            "lsrs r4, r4, #16\n",
            "muls r3, r0, r3\n",
            "adds r4, r4, r3\n",
            // r2 = al * bh, r0 = ah * bh.
            "mov r3, r9\n",
            "muls r2, r3, r2\n",
            "muls r0, r3, r0\n",
            // lower = (upper & 0xffff) + al * bh; top = ah * bh + (upper >> 16) + (lower >> 16).
            "uxth r3, r4\n",
            "adds r3, r3, r2\n",
            "asrs r4, r4, #16\n",
            "adds r0, r0, r4\n",
            "asrs r3, r3, #16\n",
            "adds r0, r0, r3\n",
            // The code: (top + rounding) >> shift, clamped to [floor, 127].
            "add r0, r10\n",
            "mov r2, r11\n",
            "asrs r0, r2\n",
            "cmp r0, #127\n",
            "ble 4f\n",
            "movs r0, #127\n",
            "4:\n",
            "cmp r0, r12\n",
            "bge 5f\n",
            "mov r0, r12\n",
            "5:\n",
            "strb r0, [r1]\n",
            "add r1, lr\n",
        )
    };
}

/// [`dot_pixel_quad`] for each of a block's filters and the four output codes (before any
/// sigmoid table) of each one's channel, in one block of assembly: `filters` holds the
/// filters one after the other, `len` weights each, and `scales` one scale per filter. Each
/// filter's sums are undone from their packing with its scale's biases
/// (`QuadScale::packed_biases`: the channel's bias, minus `128 * sum(w)` for the low halves),
/// then requantised as `QuadScale::codes` does, 31 cycles per code on the Cortex-M0+: filter
/// `f`'s codes go to `output[f]`, `output[f + stride]`, `output[f + 2 * stride]` and
/// `output[f + 3 * stride]`, the stride being the scales'. `None`, running nothing, for no
/// filters, an empty or oversized filter, short lanes or weights, scales of differing strides,
/// or an output too short for the codes.
pub fn dot_requantize_filters(
    lanes: &[u32],
    filters: &[u8],
    len: usize,
    scales: &[QuadScale],
    output: &mut [i8],
) -> Option<()> {
    let count = scales.len();
    // Sizes below 2^16 keep `count * len` within 32 bits without a checked multiply, which on
    // Armv6-M is a library call (so are the three additions below instead of `3 * stride`).
    let small = |n: usize| n <= usize::from(u16::MAX);
    let stride = scales.first()?.stride();
    if len == 0 || !small(len) || !small(count) || filters.len() < count * len {
        return None;
    }
    if lanes.len() < len * WORDS_PER_POSITION || scales.iter().any(|s| s.stride() != stride) {
        return None;
    }
    const _: () = assert!(PIXELS == 4 && size_of::<QuadScale>() == 32);
    let last_row = stride.checked_add(stride)?.checked_add(stride)?;
    if last_row.checked_add(count)? > output.len() {
        return None;
    }
    // SAFETY: for each filter, the dot products read its `len` weights (r1 one past its end,
    // r0 from -len up to 0, as in `dot_pixel_quad`) and `2 * len` lane words from `lanes`,
    // within `filters` and `lanes` (checked above); the scale's loads read the eight words of
    // its `QuadScale` (`repr(C)`: i32s, and a usize of 32 bits here). The loop state and the
    // four accumulators go onto the stack and come back off it: the block leaves sp as it
    // found it. Filter f's stores go to `output[f + k * stride]` for k = 0..=3, all below
    // `output.len()` (checked above; nothing overflowed). Every register written (r0-r5,
    // r8-r12, lr) is declared; r6 and r7 are not touched.
    unsafe {
        asm!(
            // The loop's state on the stack: [sp] -len, [sp, #4] the filter's end, [sp, #8]
            // the lanes, [sp, #12] its scale, [sp, #16] its first output, [sp, #20] filters
            // left.
            "push {{r0, r1, r2, r3, r4, r5}}",
            "6:",
            "ldr r0, [sp]",
            "ldr r1, [sp, #4]",
            "ldr r2, [sp, #8]",
            quad_sums!(),
            // The sums: P - 65536 * H for the low halves (pixels 0 and 2), H for the high ones,
            // each plus its bias; onto the stack, for the codes to take.
            "lsls r5, r1, #16",
            "subs r0, r0, r5",
            "lsls r5, r3, #16",
            "subs r2, r2, r5",
            "ldr r4, [sp, #12]",
            "ldr r5, [r4, #28]",
            "adds r0, r0, r5",
            "adds r2, r2, r5",
            "ldr r5, [r4, #24]",
            "adds r1, r1, r5",
            "adds r3, r3, r5",
            "push {{r0, r1, r2, r3}}",
            // The scale into r8-r12 and lr, the output pointer into r1 (the state is 16 bytes
            // further up now).
            "ldr r1, [sp, #32]",
            "ldm r4!, {{r0, r3, r5}}",
            "mov r8, r0",
            "mov r9, r3",
            "mov r10, r5",
            "ldm r4!, {{r0, r3, r5}}",
            "mov r11, r0",
            "mov r12, r3",
            "mov lr, r5",
            requantized_pixel!(),
            requantized_pixel!(),
            requantized_pixel!(),
            requantized_pixel!(),
            // The next filter: its scale, output and weights.
            "ldr r0, [sp, #12]",
            "adds r0, #32",
            "str r0, [sp, #12]",
            "ldr r1, [sp, #16]",
            "adds r1, #1",
            "str r1, [sp, #16]",
            "ldr r0, [sp]",
            "ldr r1, [sp, #4]",
            "subs r1, r1, r0",
            "str r1, [sp, #4]",
            "ldr r0, [sp, #20]",
            "subs r0, #1",
            "str r0, [sp, #20]",
            // The loop is longer than a conditional branch reaches.
            "beq 7f",
            "b 6b",
            "7:",
            "add sp, #24",
            inout("r0") 0u32.wrapping_sub(len as u32) => _,
            inout("r1") filters.as_ptr().wrapping_add(len) => _,
            inout("r2") lanes.as_ptr() => _,
            inout("r3") scales.as_ptr() => _,
            inout("r4") output.as_mut_ptr() => _,
            inout("r5") count => _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("lr") _,
        );
    }
    Some(())
}
