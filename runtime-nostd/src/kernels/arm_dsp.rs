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
/// register `$w` and widened into r5 (lanes 0, 2) and r4 (lanes 1, 3), and the eight lane words
/// of the group (two per pixel, see the module docs) in two loads, with four `SMLAD`s per pair
/// of pixels.
macro_rules! quad_group {
    ($w:literal) => {
        concat!(
            "ldr r4, [",
            $w,
            "], #4\n",
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

/// Filters [`dot_pixel_quad_filters`] takes in one call: the rows of its sums.
pub const FILTERS: usize = 64;

/// The weights of a filter past its whole pairs of groups (fewer than eight), zero-filled to
/// a pair of groups.
pub type TailWeights = [u8; 8];

/// Dot products of [`PIXELS`] pixels' patches with up to [`FILTERS`] filters of a convolution.
///
/// `weights` holds `filters` filters of `filter_len` bytes each, one after the other; each
/// filter's first `8 * pairs` bytes (whole pairs of groups of four) are multiplied, and when
/// `tails` is not empty, so is its entry `tails[filter]`: the filter's remaining bytes,
/// zero-filled. `lanes` holds the patches widened and interleaved, eight words per group (two
/// per pixel), `2 * pairs` groups and, with tails, two more (whose values past the patch meet
/// zero weights, so anything may be there). `sums[pixel][filter]` receives the sums. The loop
/// over filters runs in the assembly too, so a filter costs a dozen instructions besides its
/// products. Needs `pairs >= 1` and `1..=FILTERS` filters; returns `false` (writing nothing)
/// when that or the slice lengths do not hold.
pub fn dot_pixel_quad_filters(
    lanes: &[u32],
    weights: &[u8],
    filter_len: usize,
    pairs: usize,
    tails: &[TailWeights],
    filters: usize,
    sums: &mut [[i32; FILTERS]; PIXELS],
) -> bool {
    let tail_pairs = usize::from(!tails.is_empty());
    let (Some(words), Some(values), Some(bytes)) = (
        (pairs + tail_pairs).checked_mul(4 * PIXELS),
        pairs.checked_mul(8),
        filter_len.checked_mul(filters),
    ) else {
        return false;
    };
    let fits = values <= filter_len && lanes.len() >= words && weights.len() >= bytes;
    let tails_fit = tails.is_empty() || tails.len() >= filters;
    if pairs == 0 || !(1..=FILTERS).contains(&filters) || !fits || !tails_fit {
        return false;
    }
    // The loop state the registers cannot hold, read and written through its address, which
    // the block keeps on the stack: the lanes' start, the count of group pairs, where the next
    // filter's sums go (in pixel 0's row), the filter bytes past the pairs, the filters left,
    // and the next filter's tail weights (0: none).
    let mut frame = [
        lanes.as_ptr() as usize,
        pairs,
        sums.as_mut_ptr() as usize,
        filter_len - values,
        filters,
        if tails.is_empty() {
            0
        } else {
            tails.as_ptr() as usize
        },
    ];
    // SAFETY: per filter, `pairs` iterations read 16 words of `lanes` and 8 bytes of `weights`
    // each, then (with tails) one more iteration reads 16 words of `lanes` and the filter's 8
    // tail bytes: `16 * (pairs + 1)` words of `lanes` at most, and the tail pointer advances by
    // 8 bytes per filter over `filters <= tails.len()` entries (both checked above). The
    // filter's first `8 * pairs <= filter_len` bytes are read, then the weights pointer skips
    // its remaining bytes, so filter i is read within bytes `[i * filter_len, (i + 1) *
    // filter_len)` of `weights` (`filters` filters checked above). Filter i's four sums are
    // stored at `sums[pixel][i]`: through the pointer kept in `frame`, which starts at
    // `sums[0][0]` and advances by one i32 per filter, at offsets of `pixel * FILTERS` i32s, so
    // within `sums` for `filters <= FILTERS` (checked above). `frame` is a live local array;
    // its address travels in r0 and is kept in 8 bytes the block reserves below the stack
    // pointer and releases before it ends (hence no `nostack`). r0-r5 are clobbers (LDM needs
    // ascending registers, and r0 is free between the loops); the counter register carries
    // the tail pointer after the loop; the other registers are declared.
    unsafe {
        asm!(
            "str r0, [sp, #-8]!",
            "3:",
            "ldr r0, [sp]",
            "ldr {p}, [r0]",
            "ldr {n}, [r0, #4]",
            "movs {s0}, #0",
            "movs {s1}, #0",
            "movs {s2}, #0",
            "movs {s3}, #0",
            "2:",
            quad_group!("{w}"),
            quad_group!("{w}"),
            "subs {n}, {n}, #1",
            "bne 2b",
            "ldr r0, [sp]",
            "ldr {n}, [r0, #20]",
            "cmp {n}, #0",
            "beq 4f",
            quad_group!("{n}"),
            quad_group!("{n}"),
            "ldr r0, [sp]",
            "str {n}, [r0, #20]",
            "4:",
            "ldr r1, [r0, #8]",
            "str {s1}, [r1, #{row}]",
            "str {s2}, [r1, #{row2}]",
            "str {s3}, [r1, #{row3}]",
            "str {s0}, [r1], #4",
            "str r1, [r0, #8]",
            "ldr r1, [r0, #12]",
            "add {w}, {w}, r1",
            "ldr r1, [r0, #16]",
            "subs r1, r1, #1",
            "str r1, [r0, #16]",
            "bne 3b",
            "add sp, sp, #8",
            row = const 4 * FILTERS,
            row2 = const 8 * FILTERS,
            row3 = const 12 * FILTERS,
            inout("r0") frame.as_mut_ptr() => _,
            w = inout(reg) weights.as_ptr() => _,
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
        );
    }
    true
}
