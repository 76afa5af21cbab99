//! The emulated Pico 2 with the board attached ([`Machine`]): started as the RP2350's boot ROM
//! hands over to the image, both cores stepped one instruction at a time through the board's
//! bus, with [`crate::quirks`]'s workarounds applied on the way. Core 1 waits as the boot ROM
//! keeps it until the firmware launches it through the FIFOs ([`Core1`]).

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

/// SIO's FIFO registers, as a core sees its own: status (bit 0: a value to read), write, read.
const SIO_FIFO_ST: u32 = 0xd000_0050;
const SIO_FIFO_WR: u32 = 0xd000_0054;
const SIO_FIFO_RD: u32 = 0xd000_0058;

/// Core 1, as the boot ROM keeps it until the firmware launches it (no ROM image is loaded,
/// so the harness plays its part): it reads its FIFO and echoes each value, and once it has
/// read 0, 0, 1, the vector table, the stack pointer and the entry point in a row, it starts
/// there (any other value starts the sequence over).
enum Core1 {
    /// In the boot ROM's wait: the handshake's values read so far.
    Parked { received: Vec<u32> },
    /// Launched: its own cycle count stood still while it was held, so the system's time is
    /// its count plus `offset` (the system's time at the launch, less its count then).
    Running { offset: u64 },
}

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
    /// Each of the kernels' functions (sorted; other code may lie between them).
    kernel_functions: Vec<Range<u32>>,
    pub kernel_span: Option<(u64, u64)>,
    /// With a profile: the core's cycles per instruction address inside that span, and those
    /// since the last kernel instruction, which count once the kernels run again (so that
    /// what follows the last exit is left out).
    profile: Option<Profile>,
    fault_handlers: Vec<u32>,
    /// Per core, the `WFE` it last slept in, executed again while nothing wakes it.
    sleeping_at: [Option<u32>; 2],
    core1: Core1,
    /// When core 1 was launched (system cycles), once it is.
    pub core1_launched: Option<u64>,
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
            .functions_under(KERNELS)
            .ok_or("no runtime_nostd::kernels functions in the ELF")?;
        let mut kernel_functions: Vec<Range<u32>> = firmware
            .functions
            .iter()
            .filter(|f| f.name.starts_with(KERNELS))
            .map(|f| f.address..f.address + f.size)
            .collect();
        kernel_functions.sort_unstable_by_key(|f| f.start);
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
            kernel_functions,
            kernel_span: None,
            profile: None,
            fault_handlers,
            sleeping_at: [None; 2],
            core1: Core1::Parked {
                received: Vec::new(),
            },
            core1_launched: None,
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

    /// With a profile: core 0's cycle at each call into the kernels from outside them, that is
    /// at the start of each layer (or of its first part, when the cores split it).
    pub fn kernel_calls(&self) -> Option<&[u64]> {
        self.profile.as_ref().map(|p| p.calls.as_slice())
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

    /// One quantum: each core instruction by instruction up to it (core 1 once launched, the
    /// boot ROM's handshake played for it before), then the emulator's own step for the rest
    /// (peripherals, timers, interrupts).
    fn quantum(&mut self, firmware: &Firmware) -> Result<(), String> {
        let target = self.emu.cycles() + u64::from(self.emu.step_quantum);
        self.step_core(0, target, 0)?;
        match self.core1 {
            Core1::Parked { .. } => self.play_core1_rom(target),
            Core1::Running { offset } => self.step_core(1, target, offset)?,
        }
        // The emulator's own step would run core 1 from its own count, behind the system's:
        // held for it, the harness having run it already.
        let running = matches!(self.core1, Core1::Running { .. });
        if running {
            self.emu.core_mut(1).halt();
        }
        let stepped = self.emu.step();
        if running {
            self.emu.core_mut(1).wake();
        }
        stepped.map_err(|e| {
            let pc = self.emu.core(0).regs.pc();
            format!(
                "the emulator stopped at {}: {e:?}",
                firmware.function_at(pc)
            )
        })?;
        self.rtt.drain(&mut self.emu);
        Ok(())
    }

    /// The boot ROM's wait for core 1's launch: each value core 0 wrote to the FIFO read and
    /// echoed; the launch once the sequence is complete.
    fn play_core1_rom(&mut self, now: u64) {
        let Core1::Parked { received } = &mut self.core1 else {
            return;
        };
        while self.emu.bus.read32(SIO_FIFO_ST, 1) & 1 != 0 {
            let value = self.emu.bus.read32(SIO_FIFO_RD, 1);
            self.emu.bus.write32(SIO_FIFO_WR, value, 1);
            let expected = [0, 0, 1].get(received.len()).copied();
            if expected.is_none_or(|e| e == value) {
                received.push(value);
            } else {
                received.clear();
                if value == 0 {
                    received.push(value);
                }
            }
            if let [_, _, _, vector_table, stack, entry] = received[..] {
                let core = self.emu.core_mut(1);
                core.regs.msp = stack;
                core.regs.r[13] = stack;
                core.regs.set_pc(entry & !1);
                core.regs.xpsr = 1 << 24; // Thumb
                core.ppb.vtor = vector_table;
                core.wake();
                let offset = now.saturating_sub(core.cycles());
                self.core1 = Core1::Running { offset };
                self.core1_launched = Some(now);
                return;
            }
        }
    }

    /// Core `index` instruction by instruction until the system's cycle `target` (its own count
    /// plus `offset`). Only core 0's instructions count for the kernels' span and profile.
    fn step_core(&mut self, index: usize, target: u64, offset: u64) -> Result<(), String> {
        let core = &mut self.emu.cores.expect_arm_mut()[index];
        let bus = &mut self.emu.bus;
        let atomics = std::sync::Arc::clone(&bus.atomics);
        while core.cycles() + offset < target && !core.is_halted() {
            if atomics.is_wfe_waiting(index) {
                let pending = atomics.irq_pending_load(index)
                    | u64::from(core.ppb.nvic_ispr[0].load(Ordering::Relaxed))
                    | u64::from(core.ppb.nvic_ispr[1].load(Ordering::Relaxed)) << 32;
                atomics.clear_wfe_waiting(index);
                if core.ppb.any_pending_enabled(pending) {
                    // The emulator wakes a WFE only on an event (quirks).
                    self.wfe_woken += 1;
                    self.sleeping_at[index] = None;
                } else if let Some(wfe) = self.sleeping_at[index] {
                    // Asleep: the WFE again, so that the core's cycles keep pace with the
                    // peripherals' (a sleeping core's count would stand still).
                    core.regs.set_pc(wfe);
                }
            }
            let (pc, cycle) = (core.regs.pc(), core.cycles());
            core.ppb.update_latest_cycles(cycle);
            if self.fault_handlers.contains(&pc) {
                return Err(format!(
                    "core {index} faulted at cycle {} (CFSR {:#x}, HFSR {:#x}, BFAR {:#x})",
                    cycle + offset,
                    core.ppb.cfsr,
                    core.ppb.hfsr,
                    core.ppb.bfar
                ));
            }
            let in_kernels = index == 0 && self.kernels.contains(&pc);
            if in_kernels {
                let span = self.kernel_span.get_or_insert((cycle, cycle));
                span.1 = cycle;
            }
            if let Some(op) = self.harness.get(&pc) {
                op.execute(core);
                self.harness_executed += 1;
                continue;
            }
            self.panel.now = cycle + offset;
            core.step(&mut BoardBus {
                bus: &mut *bus,
                panel: &mut self.panel,
            });
            if let (0, Some(profile), Some(_)) = (index, &mut self.profile, self.kernel_span) {
                let function = self.kernel_functions.partition_point(|f| f.start <= pc);
                let function = function.checked_sub(1).map(|i| &self.kernel_functions[i]);
                let place = match function {
                    Some(f) if f.start == pc => KernelPlace::Entry,
                    Some(f) if f.contains(&pc) => KernelPlace::Inside,
                    _ => KernelPlace::Outside,
                };
                profile.count(pc, cycle, core.cycles() - cycle, in_kernels, place);
            }
            if atomics.is_wfe_waiting(index) {
                self.sleeping_at[index] = Some(pc);
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
        Ok(())
    }
}

/// The inference kernels' functions: their names' common start.
const KERNELS: &str = "runtime_nostd::kernels::";

/// Cycles per instruction address over the kernels' span, and when each call into the
/// kernels began.
#[derive(Default)]
struct Profile {
    counted: HashMap<u32, u64>,
    pending: HashMap<u32, u64>,
    calls: Vec<u64>,
    in_kernel_function: bool,
}

/// Where an instruction lies among the kernels' functions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KernelPlace {
    Entry,
    Inside,
    Outside,
}

impl Profile {
    /// The instruction at `pc`, begun at `cycle`, took `cycles`; `place`: where it lies among
    /// the kernel functions.
    fn count(&mut self, pc: u32, cycle: u64, cycles: u64, in_kernels: bool, place: KernelPlace) {
        // A call from outside the kernel functions (a return into one from a library call is
        // none, nor is a call from one kernel function to another).
        if place == KernelPlace::Entry && !self.in_kernel_function {
            self.calls.push(cycle);
        }
        self.in_kernel_function = place != KernelPlace::Outside;
        *self.pending.entry(pc).or_default() += cycles;
        if in_kernels {
            for (pc, cycles) in self.pending.drain() {
                *self.counted.entry(pc).or_default() += cycles;
            }
        }
    }
}
