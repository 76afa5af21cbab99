//! int8 dot products with the DSP extension of Armv7E-M and Armv8-M Mainline (Cortex-M4, M7,
//! M33 with DSP, as the RP2350's): `SXTB16` widens the even and the odd bytes of a word of four
//! int8 values into two pairs of int16 lanes, and `SMLAD` multiplies two pairs of lanes and adds
//! both products to an accumulator, two multiply-accumulates per instruction.
//!
//! This module is the crate's only unsafe code: inline assembly, because Rust has no stable
//! intrinsics for these instructions and LLVM forms `SMLAD` only from pairs of int16 loads, while
//! the weights stay int8 in flash. Each block reads and writes exactly the slices it is given:
//! the safe wrapper checks their lengths against the loop count before entering it, and returns
//! without running the block when they disagree, saying so (`false` or `None`): every caller
//! then computes the layer with the portable kernel. The portable kernels (`portable.rs`) stay the
//! reference: every result here equals theirs bit for bit (wrapping i32 sums are associative),
//! which the QEMU kernel check (`firmware/qemu`, bin `kernel-check`) verifies on random shapes.
//!
//! Lane layout ("widened" int8 values): four values `x0 x1 x2 x3` become two words, `(x0, x2)`
//! then `(x1, x3)` (low half first), which is what `SXTB16` makes of a weight word unrotated and
//! rotated by 8: so a widened word and an expanded weight word pair up without reordering the
//! weights, which stay in the file's order.
#![allow(unsafe_code)]

use core::arch::asm;

use super::requant::LongScale;

/// Widens the whole groups of four of `src` into `dst`, two words per group, the pair of group
/// `g` at `dst[g * STRIDE_WORDS..][..2]`. Returns `false`, writing nothing, unless `dst` holds
/// them all (the caller then takes the portable kernel); `true` also for no whole group.
#[must_use]
pub fn widen<const STRIDE_WORDS: usize>(src: &[i8], dst: &mut [u32]) -> bool {
    let groups = src.len() / 4;
    let Some(last) = groups.checked_sub(1) else {
        return true;
    };
    let needed = last
        .checked_mul(STRIDE_WORDS)
        .and_then(|words| words.checked_add(2));
    if needed.is_none_or(|needed| dst.len() < needed) || STRIDE_WORDS < 2 {
        return false;
    }
    // SAFETY: `groups` groups in all (an odd one first, then pairs): each reads 4 bytes of
    // `src` (4 * groups <= len; unaligned loads are allowed on these cores) and writes two
    // words at a STRIDE_WORDS-word step into `dst`, the last at `needed - 2`, within `dst`
    // (checked above); `dst` is word-aligned as a `&mut [u32]`, as STRD requires. `lsrs` leaves
    // the odd bit in C and Z set for no pairs; nothing between it and `beq` sets flags.
    // Registers: the pointers and the counter are updated in place and declared so; the
    // scratch registers are clobbers.
    unsafe {
        asm!(
            "lsrs {n}, {n}, #1",
            "bcc 3f",
            "ldr {x}, [{src}], #4",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}], #{step}",
            "3:",
            "beq 4f",
            "2:",
            "ldr {x}, [{src}], #4",
            "ldr {y}, [{src}], #4",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}], #{step}",
            "sxtb16 {lo}, {y}",
            "sxtb16 {hi}, {y}, ror #8",
            "strd {lo}, {hi}, [{dst}], #{step}",
            "subs {n}, {n}, #1",
            "bne 2b",
            "4:",
            src = inout(reg) src.as_ptr() => _,
            dst = inout(reg) dst.as_mut_ptr() => _,
            n = inout(reg) groups => _,
            x = out(reg) _,
            y = out(reg) _,
            lo = out(reg) _,
            hi = out(reg) _,
            step = const STRIDE_WORDS * 4,
            options(nostack),
        );
    }
    true
}

/// Widens the patches of four pixels whose patches start `step` bytes apart in `input`, each
/// `rows` rows of taps `row_stride` bytes apart, each row `groups` whole groups of four values,
/// into the lanes' interleaved layout: group `g = row * groups + q` of pixel `slot` at words
/// `8g + 2 * slot` and the next (two lane words, as [`widen`] makes them). The patch of pixel
/// 0 starts at `input[start]`. Returns `false`, writing nothing, unless `input` holds every
/// value read and `lanes` every group (the caller then places the patches another way).
#[must_use]
pub fn widen_quad_rows(
    input: &[i8],
    (start, step, row_stride): (usize, usize, usize),
    (rows, groups): (usize, usize),
    lanes: &mut [u32],
) -> bool {
    let last_read = (|| {
        let last_row = rows.checked_sub(1)?.checked_mul(row_stride)?;
        let last_group = groups.checked_mul(4)?.checked_sub(1)?;
        start
            .checked_add(last_row)?
            .checked_add(last_group)?
            .checked_add(step.checked_mul(PIXELS - 1)?)
    })();
    let words = rows
        .checked_mul(groups)
        .and_then(|g| g.checked_mul(2 * PIXELS));
    let (Some(last_read), Some(words)) = (last_read, words) else {
        return false;
    };
    let skip = row_stride.checked_sub(4 * groups);
    if last_read >= input.len() || words > lanes.len() || skip.is_none() {
        return false;
    }
    // SAFETY: `rows * groups` groups in all (both at least 1: else `last_read` is None). Group
    // (row, q) of pixel `slot` reads 4 bytes at `start + row * row_stride + 4q + slot * step`,
    // at most `last_read < input.len()` (checked above; unaligned loads are allowed on these
    // cores), and writes two words at word `8 * (row * groups + q) + 2 * slot` of `lanes`, below
    // `words <= lanes.len()` (checked above); `lanes` is word-aligned as a `&mut [u32]`, as
    // STRD requires. The pointers and counters advance in place and are declared so; the
    // scratch registers are clobbers.
    unsafe {
        asm!(
            "2:",
            "mov {q}, {groups}",
            "3:",
            "add {far}, {src}, {step}, lsl #1",
            "ldr {x}, [{src}]",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}]",
            "ldr {x}, [{src}, {step}]",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}, #8]",
            "ldr {x}, [{far}]",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}, #16]",
            "ldr {x}, [{far}, {step}]",
            "sxtb16 {lo}, {x}",
            "sxtb16 {hi}, {x}, ror #8",
            "strd {lo}, {hi}, [{dst}, #24]",
            "adds {src}, {src}, #4",
            "adds {dst}, {dst}, #32",
            "subs {q}, {q}, #1",
            "bne 3b",
            "add {src}, {src}, {skip}",
            "subs {rows}, {rows}, #1",
            "bne 2b",
            src = inout(reg) input.as_ptr().wrapping_add(start) => _,
            dst = inout(reg) lanes.as_mut_ptr() => _,
            rows = inout(reg) rows => _,
            groups = in(reg) groups,
            step = in(reg) step,
            skip = in(reg) skip.unwrap_or_default(),
            q = out(reg) _,
            far = out(reg) _,
            x = out(reg) _,
            lo = out(reg) _,
            hi = out(reg) _,
            options(nostack),
        );
    }
    true
}

/// The same pair of lanes `(z, z)` for a padding group of the zero-point code `z`.
pub const fn padding_word(z: i8) -> u32 {
    let lane = z as u16 as u32;
    lane | lane << 16
}

/// One group of four inputs (two widened words in r0, r1) times the next weight word of the
/// row at pointer register `$row`, added to accumulator register `$sum`.
macro_rules! row_group {
    ($row:literal, $sum:literal) => {
        concat!(
            "ldr r2, [",
            $row,
            "], #4\n",
            "sxtb16 r3, r2\n",
            "sxtb16 r2, r2, ror #8\n",
            "smlad ",
            $sum,
            ", r0, r3, ",
            $sum,
            "\n",
            "smlad ",
            $sum,
            ", r1, r2, ",
            $sum,
            "\n",
        )
    };
}

/// One group of four inputs for three rows: the widened pair loaded once, then each row.
macro_rules! triple_group {
    () => {
        concat!(
            "ldrd r0, r1, [{x}], #8\n",
            row_group!("{a}", "{s0}"),
            row_group!("{b}", "{s1}"),
            row_group!("{c}", "{s2}"),
        )
    };
}

/// Dot products of one widened input vector (two words per group) with three int8 weight rows,
/// over `groups` groups of four: each input pair loaded serves three rows. Returns the three
/// sums, or `None` when the slices are too short.
pub fn dot_row_triple(lanes: &[u32], rows: [&[u8]; 3], groups: usize) -> Option<[i32; 3]> {
    let bytes = groups.checked_mul(4)?;
    if lanes.len() < groups.checked_mul(2)? || rows.iter().any(|row| row.len() < bytes) {
        return None;
    }
    let [a, b, c] = rows;
    let (mut s0, mut s1, mut s2) = (0i32, 0i32, 0i32);
    // SAFETY: `groups` groups in all (an odd one first, then pairs), each reading 2 words of
    // `lanes` and 4 bytes of each row, within the slices (checked above). `lsrs` leaves the odd
    // bit in C and Z set for no pairs; the odd group's instructions set no flags. r0-r3 are
    // clobbers; the pointers and the counter advance in place.
    unsafe {
        asm!(
            "lsrs {n}, {n}, #1",
            "bcc 3f",
            triple_group!(),
            "3:",
            "beq 4f",
            "2:",
            triple_group!(),
            triple_group!(),
            "subs {n}, {n}, #1",
            "bne 2b",
            "4:",
            x = inout(reg) lanes.as_ptr() => _,
            a = inout(reg) a.as_ptr() => _,
            b = inout(reg) b.as_ptr() => _,
            c = inout(reg) c.as_ptr() => _,
            n = inout(reg) groups => _,
            s0 = inout(reg) s0,
            s1 = inout(reg) s1,
            s2 = inout(reg) s2,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            options(nostack, readonly),
        );
    }
    Some([s0, s1, s2])
}

/// Output pixels a convolution pass takes at once: each weight word loaded and widened serves
/// four pixels, each widened input word one filter, and four accumulators, four lane registers,
/// two weight registers, three pointers and a counter are the 13 registers there are.
pub const PIXELS: usize = 4;

/// One group of four patch values for four pixels: a weight word loaded through the pointer
/// register `$w` ([`quad_group_of_r4`]).
macro_rules! quad_group {
    ($w:literal) => {
        concat!("ldr r4, [", $w, "], #4\n", quad_group_of_r4!())
    };
}

/// One group of four patch values for four pixels with the weight word in r4: widened into r5
/// (lanes 0, 2) and r4 (lanes 1, 3), and the eight lane words of the group (two per pixel, see
/// the module docs) in two loads, with four `SMLAD`s per pair of pixels.
macro_rules! quad_group_of_r4 {
    () => {
        concat!(
            "sxtb16 r5, r4\n",
            "sxtb16 r4, r4, ror #8\n",
            "ldm {p}!, {{r0, r1, r2, r3}}\n",
            "smlad {s0}, r0, r5, {s0}\n",
            "smlad {s0}, r1, r4, {s0}\n",
            "smlad {s1}, r2, r5, {s1}\n",
            "smlad {s1}, r3, r4, {s1}\n",
            "ldm {p}!, {{r0, r1, r2, r3}}\n",
            "smlad {s2}, r0, r5, {s2}\n",
            "smlad {s2}, r1, r4, {s2}\n",
            "smlad {s3}, r2, r5, {s3}\n",
            "smlad {s3}, r3, r4, {s3}\n",
        )
    };
}

/// The output code of the sum in register `$sum`, in place (the steps of
/// `LongScale::codes`): the multiplier in r2, the addend in r3 and r4, the shift in r5, the
/// floor in `{p}`; r1 and `{n}` take the 64-bit sum.
macro_rules! requantized_sum {
    ($sum:literal) => {
        concat!(
            "mov r1, r3\n",
            "mov {n}, r4\n",
            "smlal r1, {n}, ",
            $sum,
            ", r2\n",
            "asr ",
            $sum,
            ", {n}, r5\n",
            "ssat ",
            $sum,
            ", #8, ",
            $sum,
            "\n",
            "cmp ",
            $sum,
            ", {p}\n",
            "it lt\n",
            "movlt ",
            $sum,
            ", {p}\n",
        )
    };
}

/// The start of a filter's pass in the blocks of [`dot_pixel_quad_filters`] and
/// [`dot_requantize_quad_filters`] (label 3), through its dot products with the four pixels'
/// lanes, to label 4 with the sums in `{s0}`..`{s3}` and the frame's address in r0. The frame
/// (its address kept at `[sp]`): `[r0]` the lanes' start, `[r0, #4]` the count of group
/// pairs, `[r0, #12]` the filter bytes past the pairs, `[r0, #16]` the filters left,
/// `[r0, #20]` the next filter's tail weights (0: none).
macro_rules! filter_dots {
    () => {
        concat!(
            "3:\n",
            "ldr r0, [sp]\n",
            "ldr {p}, [r0]\n",
            "ldr {n}, [r0, #4]\n",
            "movs {s0}, #0\n",
            "movs {s1}, #0\n",
            "movs {s2}, #0\n",
            "movs {s3}, #0\n",
            "2:\n",
            quad_group!("{w}"),
            quad_group!("{w}"),
            "subs {n}, {n}, #1\n",
            "bne 2b\n",
            "ldr r0, [sp]\n",
            "ldr {n}, [r0, #20]\n",
            "cmp {n}, #0\n",
            "beq 4f\n",
            quad_group!("{n}"),
            // The tail's second group skipped when its weights are zero (a tail of four
            // values or fewer, as a first layer's padded rows leave): nothing to add.
            "ldr r4, [{n}], #4\n",
            "cbz r4, 5f\n",
            quad_group_of_r4!(),
            "5:\n",
            "ldr r0, [sp]\n",
            "str {n}, [r0, #20]\n",
            "4:\n",
        )
    };
}

/// The end of a filter's pass: the weights pointer past the filter's remaining bytes, and
/// back to label 3 while filters are left.
macro_rules! next_filter {
    () => {
        concat!(
            "ldr r1, [r0, #12]\n",
            "add {w}, {w}, r1\n",
            "ldr r1, [r0, #16]\n",
            "subs r1, r1, #1\n",
            "str r1, [r0, #16]\n",
            "bne 3b\n",
        )
    };
}

/// Filter `i`'s four sums stored at `sums[pixel][i]` ([`dot_pixel_quad_filters`]), through the
/// pointer at `[r0, #8]`, which moves on by one sum; `{row}` .. `{row3}` are the rows' offsets.
macro_rules! sums_stored {
    () => {
        concat!(
            "ldr r1, [r0, #8]\n",
            "str {s1}, [r1, #{row}]\n",
            "str {s2}, [r1, #{row2}]\n",
            "str {s3}, [r1, #{row3}]\n",
            "str {s0}, [r1], #4\n",
            "str r1, [r0, #8]\n",
        )
    };
}

/// Filter `i`'s four sums requantised ([`dot_requantize_quad_filters`]) with the scale at the
/// pointer at `[r0, #24]` (moved on by one scale), the codes stored in the pixels' rows,
/// `[r0, #28]` bytes apart, from the pointer at `[r0, #8]` (moved on by one code).
macro_rules! codes_stored {
    () => {
        concat!(
            // The scale: multiplier r2, addend r3 (low) and r4 (high), shift r5, floor {p}.
            "ldr r1, [r0, #24]\n",
            "ldm r1!, {{r2, r3, r4, r5}}\n",
            "ldr {p}, [r1], #4\n",
            "str r1, [r0, #24]\n",
            requantized_sum!("{s0}"),
            requantized_sum!("{s1}"),
            requantized_sum!("{s2}"),
            requantized_sum!("{s3}"),
            // The four codes into the pixels' rows; the next filter's column.
            "ldr r1, [r0, #8]\n",
            "ldr r2, [r0, #28]\n",
            "strb {s0}, [r1]\n",
            "add r3, r1, r2\n",
            "strb {s1}, [r3]\n",
            "add r3, r3, r2\n",
            "strb {s2}, [r3]\n",
            "strb {s3}, [r3, r2]\n",
            "adds r1, r1, #1\n",
            "str r1, [r0, #8]\n",
        )
    };
}

/// The one block of assembly both filter loops are: the frame's address (`$frame`, in r0) kept
/// in 8 bytes below the stack pointer, each filter's dot products ([`filter_dots`]), `$stored!()`
/// (what becomes of its four sums), the next filter ([`next_filter`]); the weights from
/// `$weights`. r0-r5 are clobbers (LDM needs ascending registers); `$operands` adds the
/// epilogue's own.
macro_rules! filter_loop {
    ($frame:expr, $weights:expr, $stored:ident $(, $($operands:tt)+)?) => {
        asm!(
            "str r0, [sp, #-8]!",
            filter_dots!(),
            $stored!(),
            next_filter!(),
            "add sp, sp, #8",
            $($($operands)+)?
            inout("r0") $frame => _,
            w = inout(reg) $weights => _,
            p = out(reg) _,
            n = out(reg) _,
            s0 = out(reg) _,
            s1 = out(reg) _,
            s2 = out(reg) _,
            s3 = out(reg) _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
        )
    };
}

/// Filters [`dot_pixel_quad_filters`] takes in one call: the rows of its sums.
pub const FILTERS: usize = 64;

/// The weights of a filter past its whole pairs of groups (fewer than eight), zero-filled to
/// a pair of groups.
pub type TailWeights = [u8; 8];

/// What the filter-loop blocks take: a block of up to [`FILTERS`] filters of a convolution and
/// [`PIXELS`] pixels' patches.
///
/// `weights` holds `filters` filters of `filter_len` bytes each, one after the other; each
/// filter's first `8 * pairs` bytes (whole pairs of groups of four) are multiplied, and when
/// `tails` is not empty, so is its entry `tails[filter]`: the filter's remaining bytes,
/// zero-filled. `lanes` holds the patches widened and interleaved, eight words per group (two
/// per pixel), `2 * pairs` groups and, with tails, two more (whose values past the patch meet
/// zero weights, so anything may be there). The loop over filters runs in the assembly too,
/// so a filter costs a dozen instructions besides its products.
#[derive(Debug, Clone, Copy)]
pub struct FilterPasses<'a> {
    /// The four pixels' patches, widened and interleaved.
    pub lanes: &'a [u32],
    /// The filters, one after the other.
    pub weights: &'a [u8],
    /// Bytes of a filter.
    pub filter_len: usize,
    /// Whole pairs of groups of four values multiplied per filter (at least one).
    pub pairs: usize,
    /// Each filter's values past its pairs, zero-filled; empty for none.
    pub tails: &'a [TailWeights],
    /// Filters in the block, `1..=FILTERS`.
    pub filters: usize,
}

impl FilterPasses<'_> {
    /// The blocks' frame, the loop state the registers cannot hold, read and written through
    /// its address, which the blocks keep on the stack (see `filter_dots`): the lanes' start,
    /// the count of group pairs, `out` (where the next filter's results go), the filter bytes
    /// past the pairs, the filters left, and the next filter's tail weights (0: none). `None`
    /// unless `pairs >= 1`, `1..=FILTERS` filters, and the slices hold what the passes read.
    fn frame(&self, out: usize) -> Option<[usize; 6]> {
        let tail_pairs = usize::from(!self.tails.is_empty());
        let words = (self.pairs + tail_pairs).checked_mul(4 * PIXELS)?;
        let values = self.pairs.checked_mul(8)?;
        let bytes = self.filter_len.checked_mul(self.filters)?;
        let fits = values <= self.filter_len
            && self.lanes.len() >= words
            && self.weights.len() >= bytes
            && (self.tails.is_empty() || self.tails.len() >= self.filters);
        if self.pairs == 0 || !(1..=FILTERS).contains(&self.filters) || !fits {
            return None;
        }
        let tails = if self.tails.is_empty() {
            0
        } else {
            self.tails.as_ptr() as usize
        };
        Some([
            self.lanes.as_ptr() as usize,
            self.pairs,
            out,
            self.filter_len - values,
            self.filters,
            tails,
        ])
    }
}

/// The dot products of `passes` ([`FilterPasses`]): `sums[pixel][filter]` receives the sums.
/// Returns `false` (writing nothing) when `passes` does not hold what it says.
pub fn dot_pixel_quad_filters(
    passes: &FilterPasses<'_>,
    sums: &mut [[i32; FILTERS]; PIXELS],
) -> bool {
    let Some(mut frame) = passes.frame(sums.as_mut_ptr() as usize) else {
        return false;
    };
    // SAFETY: per filter, `pairs` iterations read 16 words of `lanes` and 8 bytes of `weights`
    // each, then (with tails) one more iteration reads the filter's 8 tail bytes and 16 words
    // of `lanes` (8 when it skips a zero second tail word): `16 * (pairs + 1)` words of `lanes`
    // at most, and the tail pointer advances by
    // 8 bytes per filter over `filters <= tails.len()` entries (both checked by `frame`). The
    // filter's first `8 * pairs <= filter_len` bytes are read, then the weights pointer skips
    // its remaining bytes, so filter i is read within bytes `[i * filter_len, (i + 1) *
    // filter_len)` of `weights` (`filters` filters checked). Filter i's four sums are
    // stored at `sums[pixel][i]`: through the pointer kept in `frame`, which starts at
    // `sums[0][0]` and advances by one i32 per filter, at offsets of `pixel * FILTERS` i32s, so
    // within `sums` for `filters <= FILTERS` (checked). `frame` is a live local array;
    // its address travels in r0 and is kept in 8 bytes the block reserves below the stack
    // pointer and releases before it ends (hence no `nostack`). r0-r5 are clobbers (LDM needs
    // ascending registers, and r0 is free between the loops); the counter register carries
    // the tail pointer after the loop; the other registers are declared.
    unsafe {
        filter_loop!(
            frame.as_mut_ptr(),
            passes.weights.as_ptr(),
            sums_stored,
            row = const 4 * FILTERS,
            row2 = const 8 * FILTERS,
            row3 = const 12 * FILTERS,
        );
    }
    true
}

/// The output codes of `passes` ([`FilterPasses`]), requantised in the same block as their
/// dot products: filter `f`'s four sums go through `scales[f]` ([`LongScale::codes`]'s steps:
/// `SMLAL` into the addend, the top word shifted, `SSAT`, the floor), its codes (before any
/// sigmoid table) to `output[f]`, `output[f + stride]`, `output[f + 2 * stride]` and
/// `output[f + 3 * stride]`, the four pixels' rows. About 64 cycles a filter for the four
/// codes, where storing the sums and requantising them in Rust took 150 (the emulated
/// RP2350's costs). Returns `false` (writing nothing) when `passes` does not hold what it
/// says, there are fewer scales than filters, or `output` is too short for the codes.
pub fn dot_requantize_quad_filters(
    passes: &FilterPasses<'_>,
    scales: &[LongScale],
    output: &mut [i8],
    stride: usize,
) -> bool {
    const _: () = assert!(PIXELS == 4 && size_of::<LongScale>() == 20);
    let last_code = stride
        .checked_mul(PIXELS - 1)
        .and_then(|row| row.checked_add(passes.filters));
    if scales.len() < passes.filters || last_code.is_none_or(|end| end > output.len()) {
        return false;
    }
    let Some(base) = passes.frame(output.as_mut_ptr() as usize) else {
        return false;
    };
    // `frame`'s six words, then the next filter's scale and the rows' stride.
    let mut frame = [
        base[0],
        base[1],
        base[2],
        base[3],
        base[4],
        base[5],
        scales.as_ptr() as usize,
        stride,
    ];
    // SAFETY: the dot products read what `dot_pixel_quad_filters`' do (its SAFETY comment;
    // `frame` checked the same bounds). Per filter the block reads the 20 bytes of its
    // `LongScale` (`repr(C)`, five 32-bit fields) through the pointer at `[r0, #24]`, which
    // starts at `scales[0]` and advances by one scale per filter, over `filters <=
    // scales.len()` scales (checked above). Filter i's codes are stored at `output[i + k *
    // stride]` for k = 0..=3, through the pointer at `[r0, #8]`, which starts at `output[0]`
    // and advances by one byte per filter: the last at `3 * stride + filters - 1 <
    // output.len()` (checked above). `frame` is a live local array; its address travels in r0
    // and is kept below the stack pointer as in `dot_pixel_quad_filters`. r0-r5 are clobbers;
    // the other registers are declared.
    unsafe {
        filter_loop!(frame.as_mut_ptr(), passes.weights.as_ptr(), codes_stored);
    }
    true
}
