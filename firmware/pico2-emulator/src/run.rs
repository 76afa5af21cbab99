//! The emulated Pico 2 with the board attached ([`Machine`]): started as the RP2350's boot ROM
//! hands over to the image, core 0 stepped one instruction at a time through the board's bus,
//! with [`crate::quirks`]'s workarounds applied on the way.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering;

use rp2350_emu::{Config, Emulator};

use crate::image::{FLASH, Firmware};
use crate::panel::{BoardBus, PIN_TOUCH_PEN_DOWN, Panel};
use crate::quirks::{self, Counts, HarnessOp, TICKS};
use crate::rtt::Rtt;

/// The tick generators' TIMER0 and TIMER1 (the third and fourth, 12 bytes each): their CYCLES
/// registers as the boot ROM leaves them, 12 (one microsecond of the 12 MHz reference).
const TIMER_TICKS_CYCLES: [u32; 2] = [TICKS.start + 2 * 12 + 4, TICKS.start + 3 * 12 + 4];
const BOOT_ROM_TICK_CYCLES: u32 = 12;

/// The emulator, the board, and what the run measures.
pub struct Machine {
    pub emu: Emulator,
    pub panel: Panel,
    pub rtt: Rtt,
    harness: HashMap<u32, HarnessOp>,
    pub quirks: Counts,
    /// Instructions the harness executed in the core's place, and `WFE`s it woke.
    pub harness_executed: u64,
    pub wfe_woken: u64,
    /// The inference kernels' code, and the first entry and last exit seen since
    /// [`Machine::measure_kernels`].
    kernels: Range<u32>,
    pub kernel_span: Option<(u64, u64)>,
    /// With a profile: the core's cycles per instruction address inside that span, and those
    /// since the last kernel instruction, which count once the kernels run again (so that
    /// what follows the last exit is left out).
    profile: Option<Profile>,
    fault_handlers: Vec<u32>,
    /// The `WFE` the core last slept in, executed again while nothing wakes it.
    sleeping_at: Option<u32>,
}

impl Machine {
    /// The firmware loaded into a fresh RP2350, core 0 about to run its reset handler.
    pub fn boot(firmware: &Firmware) -> Result<Machine, String> {
        let mut flash = firmware.flash.clone();
        let (harness, quirks) = quirks::prepare(&mut flash, &firmware.code)?;
        let mut emu = Emulator::new(Config::default());
        emu.load_flash(&flash);
        // No boot ROM is loaded (its image is not published with the emulator): core 0 starts
        // as the ROM leaves it for an image without a VECTOR_TABLE item, the vector table at
        // the start of flash, and core 1 waits (the ROM parks it until the firmware launches
        // it; this one does not).
        let word = |address| {
            firmware
                .flash_word(address)
                .ok_or(format!("no vector table at {address:#010x}"))
        };
        let (stack, reset) = (word(FLASH.start)?, word(FLASH.start + 4)?);
        let core = emu.core_mut(0);
        core.regs.msp = stack;
        core.regs.r[13] = stack;
        core.regs.set_pc(reset & !1);
        core.regs.xpsr = 1 << 24; // Thumb
        core.ppb.vtor = FLASH.start;
        emu.core_mut(1).halt();
        // The pen-down line: pulled up, released.
        emu.bus.gpio_external_mask |= 1 << PIN_TOUCH_PEN_DOWN;
        emu.bus
            .gpio_external_in
            .fetch_or(1 << PIN_TOUCH_PEN_DOWN, Ordering::Relaxed);
        let sys_clk_hz = emu.bus.sys_clk_hz();
        for register in TIMER_TICKS_CYCLES {
            let scaled = quirks::ticks_cycles(register, BOOT_ROM_TICK_CYCLES, sys_clk_hz);
            emu.bus
                .write32(register, scaled.unwrap_or(BOOT_ROM_TICK_CYCLES), 0);
        }
        let kernels = firmware
            .functions_under("runtime_nostd::kernels::")
            .ok_or("no runtime_nostd::kernels functions in the ELF")?;
        let fault_handlers = firmware
            .functions
            .iter()
            .filter(|f| f.name.starts_with("HardFault"))
            .map(|f| f.address)
            .collect();
        let rtt = Rtt::new(firmware.object("_SEGGER_RTT")?.address);
        Ok(Machine {
            emu,
            panel: Panel::new(sys_clk_hz),
            rtt,
            harness,
            quirks,
            harness_executed: 0,
            wfe_woken: 0,
            kernels,
            kernel_span: None,
            profile: None,
            fault_handlers,
            sleeping_at: None,
        })
    }

    /// The system clock's cycles so far.
    pub fn cycles(&self) -> u64 {
        self.emu.cycles()
    }

    /// Places the finger on the screen at `point`, or lifts it.
    pub fn set_finger(&mut self, point: Option<(i32, i32)>) {
        self.panel.touch.finger = point;
        let pen = 1 << PIN_TOUCH_PEN_DOWN;
        match point {
            Some(_) => self
                .emu
                .bus
                .gpio_external_in
                .fetch_and(!pen, Ordering::Relaxed),
            None => self
                .emu
                .bus
                .gpio_external_in
                .fetch_or(pen, Ordering::Relaxed),
        };
    }

    /// Forgets the kernels' span, to measure the next inference; with `profile`, also counts
    /// its cycles per instruction ([`Machine::profile`]).
    pub fn measure_kernels(&mut self, profile: bool) {
        self.kernel_span = None;
        self.profile = profile.then(Profile::default);
    }

    /// The cycles of the measured span per instruction address.
    pub fn profile(&self) -> Option<&HashMap<u32, u64>> {
        self.profile.as_ref().map(|p| &p.counted)
    }

    /// Runs until `done` holds or `deadline` cycles; whether `done` held. A fault of the
    /// firmware ends the run with where it happened.
    pub fn run_until(
        &mut self,
        deadline: u64,
        mut done: impl FnMut(&Machine) -> bool,
        firmware: &Firmware,
    ) -> Result<bool, String> {
        while self.cycles() < deadline {
            if done(self) {
                return Ok(true);
            }
            self.quantum(firmware)?;
        }
        Ok(done(self))
    }

    /// One quantum: core 0 instruction by instruction up to it, then the emulator's own step
    /// for the rest (peripherals, timers, interrupts).
    fn quantum(&mut self, firmware: &Firmware) -> Result<(), String> {
        let target = self.emu.cycles() + u64::from(self.emu.step_quantum);
        {
            let core = &mut self.emu.cores.expect_arm_mut()[0];
            let bus = &mut self.emu.bus;
            let atomics = std::sync::Arc::clone(&bus.atomics);
            while core.cycles() < target && !core.is_halted() {
                if atomics.is_wfe_waiting(0) {
                    let pending = atomics.irq_pending_load(0)
                        | u64::from(core.ppb.nvic_ispr[0].load(Ordering::Relaxed))
                        | u64::from(core.ppb.nvic_ispr[1].load(Ordering::Relaxed)) << 32;
                    atomics.clear_wfe_waiting(0);
                    if core.ppb.any_pending_enabled(pending) {
                        // The emulator wakes a WFE only on an event (quirks).
                        self.wfe_woken += 1;
                        self.sleeping_at = None;
                    } else if let Some(wfe) = self.sleeping_at {
                        // Asleep: the WFE again, so that the core's cycles keep pace with the
                        // peripherals' (a sleeping core's count would stand still).
                        core.regs.set_pc(wfe);
                    }
                }
                let (pc, cycle) = (core.regs.pc(), core.cycles());
                core.ppb.update_latest_cycles(cycle);
                if self.fault_handlers.contains(&pc) {
                    return Err(format!(
                        "the firmware faulted at cycle {cycle} (CFSR {:#x}, HFSR {:#x}, BFAR {:#x})",
                        core.ppb.cfsr, core.ppb.hfsr, core.ppb.bfar
                    ));
                }
                let in_kernels = self.kernels.contains(&pc);
                if in_kernels {
                    let span = self.kernel_span.get_or_insert((cycle, cycle));
                    span.1 = cycle;
                }
                if let Some(op) = self.harness.get(&pc) {
                    op.execute(core);
                    self.harness_executed += 1;
                    continue;
                }
                self.panel.now = cycle;
                core.step(&mut BoardBus {
                    bus: &mut *bus,
                    panel: &mut self.panel,
                });
                if let (Some(profile), Some(_)) = (&mut self.profile, self.kernel_span) {
                    profile.count(pc, core.cycles() - cycle, in_kernels);
                }
                if atomics.is_wfe_waiting(0) {
                    self.sleeping_at = Some(pc);
                }
                if !bus.pending_cache_invalidations.is_empty() {
                    core.invalidate_decode_cache_entries(&bus.pending_cache_invalidations);
                    bus.pending_cache_invalidations.clear();
                }
                if bus.pending_invalidation_regions != 0 {
                    core.invalidate_decode_cache_regions(bus.pending_invalidation_regions);
                    bus.pending_invalidation_regions = 0;
                }
            }
        }
        self.emu.step().map_err(|e| {
            let pc = self.emu.core(0).regs.pc();
            format!(
                "the emulator stopped at {}: {e:?}",
                firmware.function_at(pc)
            )
        })?;
        self.rtt.drain(&mut self.emu);
        Ok(())
    }
}

/// Cycles per instruction address over the kernels' span.
#[derive(Default)]
struct Profile {
    counted: HashMap<u32, u64>,
    pending: HashMap<u32, u64>,
}

impl Profile {
    fn count(&mut self, pc: u32, cycles: u64, in_kernels: bool) {
        *self.pending.entry(pc).or_default() += cycles;
        if in_kernels {
            for (pc, cycles) in self.pending.drain() {
                *self.counted.entry(pc).or_default() += cycles;
            }
        }
    }
}
