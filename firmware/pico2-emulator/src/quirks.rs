//! What rp2350-emu 0.2.6 gets wrong for this firmware, and how the run works around each fault
//! without changing the firmware (found by running it: a fault, a hang, or wrong pixels, then
//! single instructions against the Arm ARM). The emulator's file and line are given for each,
//! for a fix upstream.
//!
//! - Load-acquire and store-release (`LDA`, `STL`, `LDAEX`, `STLEX` and their byte and
//!   halfword forms; the atomics of embassy's executor): decoded as `LDRD`/`STRD`
//!   (`core/execute_thumb32.rs`, the load/store exclusive group). Rewritten, in the emulator's
//!   copy of flash only, to `LDR`/`STR`/`LDREX`/`STREX`: the same on one core whose memory is
//!   sequentially consistent, as the emulator's is.
//! - `VPUSH`/`VPOP` of double registers (the FPU's callee-saved d8-d15): coprocessor 11 taken
//!   for absent (`core/execute_fpu.rs`). Rewritten to the single-register form that moves the
//!   same words (d8-d15 are s16-s31).
//! - `PKHBT`/`PKHTB`: UNDEFINED to the emulator. Executed by the harness.
//! - `VSEL`, `VMAXNM`, `VMINNM`: their D bit and condition read from the wrong bits
//!   (`core/execute_fpu.rs`, `fpu_v8m_dp`: D from bit 4 and the condition from bits 6:5 of the
//!   first halfword; the Arm ARM has D at bit 6 and the condition at bits 5:4), so `clamp()`
//!   wrote another register and the app's strokes came out black. Executed by the harness.
//! - SPI1 modelled at 0x4008_4000 (`peripherals/spi.rs`); the chip has it at 0x4008_8000, where
//!   the firmware polls a status register that never changes. The board's devices answer there
//!   ([`crate::panel`]).
//! - The tick generators counted in system clock cycles instead of the 12 MHz reference clock
//!   (`peripherals/ticks.rs`, `Domain::advance`), so the timer ran 12.5 times fast. The harness
//!   scales the firmware's `CYCLES` writes ([`ticks_cycles`]).
//! - `WFE` woken only by events, not by a pending interrupt (`core/mod.rs`): embassy's
//!   executor, which sleeps in `WFE` until its timer interrupt, would sleep for ever. The run
//!   loop wakes the core when an enabled interrupt is pending ([`crate::run`]).

use std::collections::HashMap;

use rp2350_emu::core::CortexM33;

use crate::image::{FLASH, Instruction};

/// How many instructions of each kind the run rewrote or executes itself.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    pub acquire_release: usize,
    pub vfp_double_push_pop: usize,
    pub pack_halfword: usize,
    pub fp_select: usize,
}

/// An instruction the harness executes in the core's place.
#[derive(Debug, Clone, Copy)]
pub enum HarnessOp {
    /// `PKHBT` / `PKHTB`.
    PackHalfword(u16, u16),
    /// `VSEL<cc>.F32`, `VMAXNM.F32`, `VMINNM.F32`.
    FpSelect(u16, u16),
}

/// Rewrites the instructions the emulator decodes wrongly into equivalents it decodes right, in
/// `flash` (the emulator's copy), and lists those the harness executes itself.
pub fn prepare(
    flash: &mut [u8],
    code: &[Instruction],
) -> Result<(HashMap<u32, HarnessOp>, Counts), String> {
    let mut counts = Counts::default();
    let mut harness = HashMap::new();
    for instruction in code {
        let (Some(second), first) = (instruction.second, instruction.first) else {
            continue;
        };
        let replacement = if let Some(plain) = plain_access(first, second) {
            counts.acquire_release += 1;
            Some(plain)
        } else if let Some(single) = single_register_push_pop(first, second) {
            counts.vfp_double_push_pop += 1;
            Some(single)
        } else {
            None
        };
        if let Some((first, second)) = replacement {
            let at = (instruction.address - FLASH.start) as usize;
            flash[at..at + 2].copy_from_slice(&first.to_le_bytes());
            flash[at + 2..at + 4].copy_from_slice(&second.to_le_bytes());
            continue;
        }
        let op = if is_pack_halfword(first, second) {
            counts.pack_halfword += 1;
            HarnessOp::PackHalfword(first, second)
        } else if is_fp_select(first, second) {
            counts.fp_select += 1;
            HarnessOp::FpSelect(first, second)
        } else {
            continue;
        };
        if instruction.conditional {
            return Err(format!(
                "{op:?} at {:#010x} sits in an IT block, which the harness cannot execute in \
                 the core's place",
                instruction.address
            ));
        }
        harness.insert(instruction.address, op);
    }
    Ok((harness, counts))
}

/// The plain form of a load-acquire or store-release (T1 encodings: `1110 1000 110L Rn | Rt
/// Rt2/Rd op3 Rd`), or `None` for other instructions.
fn plain_access(first: u16, second: u16) -> Option<(u16, u16)> {
    if first & 0xFFE0 != 0xE8C0 {
        return None;
    }
    let (rn, rt, rd) = (first & 0xF, second >> 12, second & 0xF);
    let load = first & 0x0010 != 0;
    Some(match ((second >> 4) & 0xF, load) {
        (0xE, true) => (0xE850 | rn, rt << 12 | 0x0F00), // LDAEX -> LDREX #0
        (0xE, false) => (0xE840 | rn, rt << 12 | rd << 8), // STLEX -> STREX #0
        (0xC, true) => (first, rt << 12 | 0x0F4F),       // LDAEXB -> LDREXB
        (0xD, true) => (first, rt << 12 | 0x0F5F),       // LDAEXH -> LDREXH
        (0xC, false) => (first, rt << 12 | 0x0F40 | rd), // STLEXB -> STREXB
        (0xD, false) => (first, rt << 12 | 0x0F50 | rd), // STLEXH -> STREXH
        (0xA, true) => (0xF8D0 | rn, rt << 12),          // LDA -> LDR.W #0
        (0x8, true) => (0xF890 | rn, rt << 12),          // LDAB -> LDRB.W #0
        (0x9, true) => (0xF8B0 | rn, rt << 12),          // LDAH -> LDRH.W #0
        (0xA, false) => (0xF8C0 | rn, rt << 12),         // STL -> STR.W #0
        (0x8, false) => (0xF880 | rn, rt << 12),         // STLB -> STRB.W #0
        (0x9, false) => (0xF8A0 | rn, rt << 12),         // STLH -> STRH.W #0
        _ => return None,                                // TBB, TBH, LDREXB/H, STREXB/H
    })
}

/// `VPUSH`/`VPOP` of d-registers (`1110 110P U D W 1 1101 | Vd 1011 imm8`, sp-based) as their
/// single-register form (`... | Vd 1010 imm8`): with D = 0, d<n> is s<2n>, s<2n+1> and the
/// word count `imm8` stays.
fn single_register_push_pop(first: u16, second: u16) -> Option<(u16, u16)> {
    let push = first & 0xFFBF == 0xED2D;
    let pop = first & 0xFFBF == 0xECBD;
    ((push || pop) && first & 0x0040 == 0 && second & 0x0F00 == 0x0B00)
        .then_some((first, second & !0x0100))
}

/// `PKHBT`/`PKHTB` T1: `1110 1010 1100 Rn | 0 imm3 Rd imm2 tb 0 Rm`.
fn is_pack_halfword(first: u16, second: u16) -> bool {
    first & 0xFFF0 == 0xEAC0 && second & 0x8010 == 0
}

/// `VSEL` T1 (`1111 1110 0 D cc Vn | Vd 101 0 N 0 M 0 Vm`) and `VMAXNM`/`VMINNM` T2
/// (`1111 1110 1 D 00 Vn | Vd 101 0 N op M 0 Vm`), single precision.
fn is_fp_select(first: u16, second: u16) -> bool {
    let vsel = first & 0xFF80 == 0xFE00 && second & 0x0F50 == 0x0A00;
    let minmax = first & 0xFFB0 == 0xFE80 && second & 0x0F10 == 0x0A00;
    vsel || minmax
}

impl HarnessOp {
    /// Executes the instruction at the core's PC and moves the PC past it.
    pub fn execute(self, core: &mut CortexM33) {
        match self {
            HarnessOp::PackHalfword(first, second) => {
                let (rn, rd, rm) = (
                    (first & 0xF) as usize,
                    ((second >> 8) & 0xF) as usize,
                    (second & 0xF) as usize,
                );
                let shift = u32::from(((second >> 12) & 7) << 2 | ((second >> 6) & 3));
                let (n, m) = (core.regs.r[rn], core.regs.r[rm]);
                core.regs.r[rd] = if second & 0x20 == 0 {
                    (n & 0xFFFF) | ((m << shift) & 0xFFFF_0000)
                } else {
                    // PKHTB: an arithmetic shift right, 0 meaning 32.
                    let shifted = (m as i32) >> if shift == 0 { 31 } else { shift };
                    (n & 0xFFFF_0000) | (shifted as u32 & 0xFFFF)
                };
            }
            HarnessOp::FpSelect(first, second) => {
                let sd = usize::from((second >> 12) & 0xF) << 1 | usize::from((first >> 6) & 1);
                let sn = usize::from(first & 0xF) << 1 | usize::from((second >> 7) & 1);
                let sm = usize::from(second & 0xF) << 1 | usize::from((second >> 5) & 1);
                let (a, b) = (core.regs.s[sn], core.regs.s[sm]);
                core.regs.s[sd] = if first & 0x0080 == 0 {
                    if condition_holds((first >> 4) & 3, core.regs.xpsr) {
                        a
                    } else {
                        b
                    }
                } else {
                    max_min_num(a, b, second & 0x0040 != 0)
                };
            }
        }
        let pc = core.regs.pc();
        core.regs.set_pc(pc + 4);
    }
}

/// VSEL's conditions: EQ, VS, GE, GT on the APSR flags.
fn condition_holds(cc: u16, xpsr: u32) -> bool {
    let flag = |bit: u32| (xpsr >> bit) & 1 == 1;
    let (n, z, v) = (flag(31), flag(30), flag(28));
    match cc {
        0 => z,
        1 => v,
        2 => n == v,
        _ => !z && n == v,
    }
}

/// IEEE 754-2008 maxNum / minNum as VMAXNM / VMINNM compute them: a quiet NaN loses to a
/// number, and -0 is below +0.
fn max_min_num(a: f32, b: f32, min: bool) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => f32::from_bits(0x7FC0_0000),
        (true, false) => b,
        (false, true) => a,
        _ if a == 0.0 && b == 0.0 => {
            let sign = if min {
                a.to_bits() | b.to_bits()
            } else {
                a.to_bits() & b.to_bits()
            };
            f32::from_bits(sign & 0x8000_0000)
        }
        _ if (a < b) == min => a,
        _ => b,
    }
}

/// The tick generators' registers (`TICKS`): per generator CTRL, CYCLES, COUNT.
pub const TICKS: core::ops::Range<u32> = 0x4010_8000..0x4010_8048;

/// The reference clock the tick generators count on the chip.
const CLK_REF_HZ: u64 = 12_000_000;

/// The value to store for a firmware write of `cycles` to a tick generator's CYCLES register
/// at `address` (else `None`): scaled from reference clock to system clock cycles.
pub fn ticks_cycles(address: u32, cycles: u32, sys_clk_hz: u32) -> Option<u32> {
    let canonical = address & !0x3000; // the atomic set/clear/xor aliases
    (TICKS.contains(&canonical) && (canonical - TICKS.start) % 12 == 4)
        .then(|| (u64::from(cycles) * u64::from(sys_clk_hz) / CLK_REF_HZ) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Encodings from `llvm-mc --triple=thumbv8m.main -mattr=+fp-armv8d16sp,+dsp -show-encoding`.

    #[test]
    fn load_acquire_and_store_release_become_their_plain_forms() {
        // ldaex r1, [r0] -> ldrex r1, [r0]; stlex r2, r1, [r0] -> strex r2, r1, [r0]
        assert_eq!(plain_access(0xE8D0, 0x1FEF), Some((0xE850, 0x1F00)));
        assert_eq!(plain_access(0xE8C0, 0x1FE2), Some((0xE840, 0x1200)));
        // lda r3, [r4] -> ldr.w r3, [r4]; stl r3, [r4] -> str.w r3, [r4]
        assert_eq!(plain_access(0xE8D4, 0x3FAF), Some((0xF8D4, 0x3000)));
        assert_eq!(plain_access(0xE8C4, 0x3FAF), Some((0xF8C4, 0x3000)));
        // tbb [r0, r1] is left alone
        assert_eq!(plain_access(0xE8D0, 0xF001), None);
    }

    #[test]
    fn double_register_push_and_pop_become_single_register_ones() {
        // vpush {d8, d9} -> vpush {s16-s19}; vpop {d8-d15} -> vpop {s16-s31}
        assert_eq!(
            single_register_push_pop(0xED2D, 0x8B04),
            Some((0xED2D, 0x8A04))
        );
        assert_eq!(
            single_register_push_pop(0xECBD, 0x8B10),
            Some((0xECBD, 0x8A10))
        );
        assert_eq!(single_register_push_pop(0xED2D, 0x8A04), None);
    }

    #[test]
    fn pack_and_fp_select_are_recognised() {
        assert!(is_pack_halfword(0xEAC1, 0x4002)); // pkhbt r0, r1, r2, lsl #16
        assert!(is_pack_halfword(0xEAC1, 0x4022)); // pkhtb r0, r1, r2, asr #16
        assert!(is_fp_select(0xFE3D, 0x0A80)); // vselgt.f32 s0, s27, s0
        assert!(is_fp_select(0xFEC1, 0x0A21)); // vmaxnm.f32 s1, s2, s3
        assert!(is_fp_select(0xFEC1, 0x0A61)); // vminnm.f32 s1, s2, s3
        assert!(!is_fp_select(0xEAC1, 0x4002));
    }

    #[test]
    fn fp_select_follows_the_arm_arm() {
        const N: u32 = 1 << 31;
        const Z: u32 = 1 << 30;
        const V: u32 = 1 << 28;
        assert!(condition_holds(0, Z) && !condition_holds(0, 0)); // EQ
        assert!(condition_holds(1, V) && !condition_holds(1, 0)); // VS
        assert!(condition_holds(2, N | V) && !condition_holds(2, N)); // GE
        assert!(condition_holds(3, 0) && !condition_holds(3, Z)); // GT
        assert_eq!(max_min_num(1.0, f32::NAN, false), 1.0);
        assert_eq!(max_min_num(-0.0, 0.0, true).to_bits(), (-0.0f32).to_bits());
        assert_eq!(max_min_num(-0.0, 0.0, false).to_bits(), 0.0f32.to_bits());
        assert_eq!(max_min_num(2.0, 3.0, true), 2.0);
    }

    #[test]
    fn tick_cycles_are_scaled_to_the_system_clock() {
        assert_eq!(ticks_cycles(0x4010_801C, 12, 150_000_000), Some(150));
        assert_eq!(ticks_cycles(0x4010_901C, 12, 150_000_000), Some(150)); // the set alias
        assert_eq!(ticks_cycles(0x4010_8018, 1, 150_000_000), None); // a CTRL register
    }
}
