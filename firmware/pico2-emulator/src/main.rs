//! The Pico 2 build, run: the unmodified firmware for the Raspberry Pi Pico 2 (RP2350, the
//! default build of `pico-restouch`), loaded from the UF2 file a board owner flashes, in the
//! `rp2350-emu` emulator with the Pico-ResTouch-LCD-2.8's display and touch controller on its
//! SPI bus. It boots, launches its second core (through the boot ROM's handshake, which the
//! harness plays: [`run`]), copies its model to SRAM (checked against flash), draws its first
//! screen, has a digit drawn by a synthetic finger (the simulator's strokes, `app::synthetic`),
//! and times the inference in core 0's cycles, each convolution's second half on core 1.
//! With `--profile`, the cycles are core 0's.
//! `firmware/emulate-pico2.sh` builds the firmware, runs this, and compares the screens with the
//! simulator's and the log with what it should say.
//!
//! The emulator has faults that this firmware runs into; [`quirks`] lists them and how the run
//! works around each without changing the firmware.
//!
//! ```text
//! pico2-emulator <UF2> <ELF> <OUT_DIR> [DIGIT] [--profile]
//! ```
//!
//! Writes `pico2-boot.png` (the first screen), `pico2-<DIGIT>.png` (after the digit) and
//! `pico2.rtt` (the raw defmt log) to OUT_DIR, and prints what it measured; with `--profile`,
//! also the inference's cycles per function, exact (every instruction is stepped), to
//! `pico2-profile.txt`, and per instruction address to `pico2-profile-addresses.txt` (to read
//! beside `llvm-objdump -d --mcpu=cortex-m33` of the ELF).

mod image;
mod panel;
mod quirks;
mod rtt;
mod run;

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use app::layout::Layout;
use app::session::POLL_MS;

use image::Firmware;
use panel::{HEIGHT, PIN_LCD_BACKLIGHT, WIDTH};
use run::Machine;

const USAGE: &str = "usage: pico2-emulator <UF2> <ELF> <OUT_DIR> [DIGIT (default 7)] [--profile]";

/// How long the display stays quiet before a screen counts as complete.
const QUIET_MS: u64 = 100;
/// How long boot may take, and the screen to settle after the digit, in emulated time.
const BOOT_BOUND_MS: u64 = 2000;
const SETTLE_BOUND_MS: u64 = 2000;

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pico2-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let profile = args.iter().any(|a| a == "--profile");
    let args: Vec<&String> = args.iter().filter(|a| *a != "--profile").collect();
    let [uf2, elf, out, rest @ ..] = &args[..] else {
        return Err(USAGE.into());
    };
    let digit = match rest {
        [] => 7,
        [d] => d
            .parse::<u8>()
            .ok()
            .filter(|&d| d <= 9)
            .ok_or(format!("DIGIT must be 0-9, not {d:?}"))?,
        _ => return Err(USAGE.into()),
    };
    let read = |path: &str| std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"));
    let firmware =
        Firmware::load(&read(uf2)?, &read(elf)?).map_err(|e| format!("{uf2}, {elf}: {e}"))?;
    let out = Path::new(out);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;

    let mut machine = Machine::boot(&firmware)?;
    let hz = u64::from(machine.panel.sys_clk_hz);
    let ms = |cycles: u64| cycles as f64 * 1000.0 / hz as f64;
    let cycles_of_ms = |ms: u64| ms * hz / 1000;
    let quiet = |m: &Machine| m.cycles() - m.panel.lcd.last_byte > cycles_of_ms(QUIET_MS);

    // Boot: the panel switched on, the backlight, the first screen drawn (at least a screenful
    // of pixels, then quiet).
    let screenful = (WIDTH * HEIGHT) as u64;
    let booted = machine.run_until(
        cycles_of_ms(BOOT_BOUND_MS),
        |m| {
            m.panel.lcd.on_at.is_some()
                && backlight_on(m)
                && m.panel.lcd.pixels >= screenful
                && quiet(m)
        },
        &firmware,
    )?;
    if !booted {
        return Err(format!(
            "no first screen within {BOOT_BOUND_MS} ms: display on: {}, backlight: {}, {} bytes to \
             the display; the core at {}",
            machine.panel.lcd.on_at.is_some(),
            backlight_on(&machine),
            machine.panel.lcd.bytes,
            firmware.function_at(machine.emu.core(0).regs.pc())
        ));
    }
    println!(
        "pico2: boot: display on at {:.1} ms, first screen complete at {:.1} ms of emulated time",
        ms(machine.panel.lcd.on_at.unwrap_or(0)),
        ms(machine.panel.lcd.last_byte)
    );
    write_screen(&machine, &out.join("pico2-boot.png"))?;
    let launched = machine.core1_launched.ok_or(
        "the firmware did not launch core 1 before its first screen (the boot ROM's FIFO \
         handshake: 0, 0, 1, vector table, stack, entry), and the Pico 2 build runs half of each \
         convolution there",
    )?;
    println!(
        "pico2: core 1 launched at {:.1} ms (the boot ROM's FIFO handshake, played by the harness)",
        ms(launched)
    );
    let (ram, flash, len) = model_copy(&machine, &firmware)?;
    println!(
        "pico2: the model's copy in SRAM ({len} bytes at {ram:#010x}) equals its bytes in flash \
         (at {flash:#010x})"
    );

    let scenario = draw(&mut machine, &firmware, digit, profile);
    // The log and the last screen, whatever happened: what to look at when it failed.
    machine.rtt.drain(&mut machine.emu);
    let log = out.join("pico2.rtt");
    std::fs::write(&log, &machine.rtt.received)
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    let screen = out.join(format!("pico2-{digit}.png"));
    write_screen(&machine, &screen)?;
    let (polls, (first, last)) = scenario.map_err(|e| {
        format!(
            "{e} (the log: {}, the screen: {})",
            log.display(),
            screen.display()
        )
    })?;

    if let Some(counts) = machine.profile() {
        let path = out.join("pico2-profile.txt");
        let lines = profile_lines(counts, &firmware, last - first);
        let header = format!(
            "# Cycles of the inference by function ({} cycles, every instruction counted)\n",
            last - first
        );
        let layers = layer_lines(machine.kernel_calls().unwrap_or_default(), last);
        let layers_header = "\n# Cycles per kernel call (a layer, or its first part on core 0 \
                             when the cores split it), from the call to the next\n";
        let text = header + &lines.join("\n") + "\n" + layers_header + &layers.join("\n") + "\n";
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let path = out.join("pico2-profile-addresses.txt");
        std::fs::write(&path, address_lines(counts))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        for line in lines.iter().take(8).chain(&layers) {
            println!("pico2: profile: {line}");
        }
    }
    let q = machine.quirks;
    println!(
        "pico2: emulator faults worked around: {} load-acquire/store-release and {} \
         double-register push/pop rewritten, {} PKHBT/PKHTB and {} VSEL/VMAXNM/VMINNM executed by \
         the harness ({} times), {} WFE wakes on a pending interrupt, {} tick generator writes \
         rescaled to the system clock",
        q.acquire_release,
        q.vfp_double_push_pop,
        q.pack_halfword,
        q.fp_select,
        machine.harness_executed,
        machine.wfe_woken,
        machine.panel.ticks_rescaled
    );
    println!(
        "pico2: digit {digit} drawn ({polls} polls), the inference's kernels from the first entry \
         to the last exit: {} cycles ({:.1} ms at {} MHz); screen {}, log {}",
        last - first,
        ms(last - first),
        hz / 1_000_000,
        screen.display(),
        log.display()
    );
    Ok(())
}

/// After boot: the digit drawn (its first touch also ends the first screen's calibration
/// notice) and recognised. The number of polls the digit took and the inference kernels' first
/// and last cycle.
fn draw(
    machine: &mut Machine,
    firmware: &Firmware,
    digit: u8,
    profile: bool,
) -> Result<(usize, (u64, u64)), String> {
    let layout = Layout::for_screen(Layout::MIN_SCREEN).ok_or("the layout does not fit")?;
    // The digit, then its recognition.
    let mut strokes = Vec::new();
    app::synthetic::finger_polls(&layout, digit, |p| strokes.push(p.map(|p| (p.x, p.y))));
    machine.measure_kernels(profile);
    let drawn_before = machine.panel.lcd.bytes;
    play(machine, &strokes, firmware)?;
    settle(machine, drawn_before, firmware, "the digit")?;
    let span = machine
        .kernel_span
        .ok_or("the digit was drawn, but the inference kernels never ran")?;
    Ok((strokes.len(), span))
}

/// Where the firmware's copy of the model in SRAM is, where in flash it came from, and how long
/// it is: the copy (`model-in-ram`, the Pico 2's default) must equal bytes of the flash image.
fn model_copy(machine: &Machine, firmware: &Firmware) -> Result<(u32, u32, usize), String> {
    const COPY: &str = "pico_restouch::model_bytes::MODEL_IN_RAM";
    let cell = firmware.object(COPY)?;
    let ram: Vec<u8> = (cell.address..cell.address + cell.size)
        .map(|address| (machine.emu.peek(address & !3) >> ((address & 3) * 8)) as u8)
        .collect();
    // The cell is the array and a one-byte "taken" flag, on either side of it.
    let len = ram.len().saturating_sub(1);
    if len == 0 {
        return Err(format!("{COPY} in the ELF has no room for a model"));
    }
    for at in [0, 1] {
        let copy = &ram[at..at + len];
        let found = firmware.flash.windows(len).position(|w| w == copy);
        if let (Some(source), true) = (found, copy.iter().any(|&b| b != 0)) {
            return Ok((
                cell.address + at as u32,
                image::FLASH.start + source as u32,
                len,
            ));
        }
    }
    Err(format!(
        "{COPY} ({len} bytes at {:#010x}) does not hold bytes of the flash image: the model \
         was not copied",
        cell.address
    ))
}

/// Cycles per function, most first: each function's cycles and its share of `total`.
fn profile_lines(counts: &HashMap<u32, u64>, firmware: &Firmware, total: u64) -> Vec<String> {
    let mut by_function: HashMap<String, u64> = HashMap::new();
    for (&pc, &cycles) in counts {
        *by_function.entry(firmware.function_name(pc)).or_default() += cycles;
    }
    let mut rows: Vec<_> = by_function.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.into_iter()
        .map(|(name, cycles)| {
            let share = 100.0 * cycles as f64 / total.max(1) as f64;
            format!("{cycles:>11} {share:5.1}%  {name}")
        })
        .collect()
}

/// Cycles from each kernel call (`calls`, core 0's cycles) to the next, the last to `last`.
fn layer_lines(calls: &[u64], last: u64) -> Vec<String> {
    let ends = calls.iter().skip(1).copied().chain([last]);
    (1..)
        .zip(calls.iter().zip(ends))
        .map(|(n, (&start, end))| format!("{:>11}  kernel call {n}", end.saturating_sub(start)))
        .collect()
}

/// Cycles per instruction address, in address order, one `address cycles` line each (to read
/// beside a disassembly of the ELF).
fn address_lines(counts: &HashMap<u32, u64>) -> String {
    let mut rows: Vec<_> = counts.iter().collect();
    rows.sort();
    rows.into_iter()
        .map(|(pc, cycles)| format!("{pc:08x} {cycles}\n"))
        .collect()
}

fn backlight_on(machine: &Machine) -> bool {
    (rp2350_emu::core::CoreBus::gpio_read_out(&machine.emu.bus) >> PIN_LCD_BACKLIGHT) & 1 == 1
}

/// Plays touch-panel polls (one per 10 ms, a screen point or `None` while lifted) so that each
/// is under the finger for one poll period, centred on the firmware's own polls (its reads of
/// the pen-down line); the finger is lifted at the end.
fn play(
    machine: &mut Machine,
    polls: &[Option<(i32, i32)>],
    firmware: &Firmware,
) -> Result<(), String> {
    let period = POLL_MS * u64::from(machine.panel.sys_clk_hz) / 1000;
    let now = machine.cycles();
    let last_read = *machine
        .panel
        .pen_reads
        .last()
        .ok_or("the firmware has not polled the touch panel")?;
    let mut next_poll = last_read;
    while next_poll < now + period {
        next_poll += period;
    }
    let start = next_poll - period / 2;
    for (k, &poll) in (0u64..).zip(polls) {
        machine.run_until(start + k * period, |_| false, firmware)?;
        machine.set_finger(poll);
    }
    machine.run_until(start + polls.len() as u64 * period, |_| false, firmware)?;
    machine.set_finger(None);
    Ok(())
}

/// Runs until the display, which has received more than `bytes` bytes, has been quiet for a
/// while.
fn settle(
    machine: &mut Machine,
    bytes: u64,
    firmware: &Firmware,
    after: &str,
) -> Result<(), String> {
    let hz = u64::from(machine.panel.sys_clk_hz);
    let since = machine.cycles();
    let quiet = QUIET_MS * hz / 1000;
    let settled = machine.run_until(
        since + SETTLE_BOUND_MS * hz / 1000,
        |m| m.panel.lcd.bytes > bytes && m.cycles() - m.panel.lcd.last_byte > quiet,
        firmware,
    )?;
    if settled {
        Ok(())
    } else {
        Err(format!(
            "the screen did not settle within {SETTLE_BOUND_MS} ms after {after} ({} bytes to the \
             display meanwhile, {} touch conversions and {} touch polls in all; the core at {})",
            machine.panel.lcd.bytes - bytes,
            machine.panel.touch.conversions,
            machine.panel.pen_reads.len(),
            firmware.function_at(machine.emu.core(0).regs.pc())
        ))
    }
}

fn write_screen(machine: &Machine, path: &Path) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), WIDTH as u32, HEIGHT as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| fail(&e))?;
    writer
        .write_image_data(&machine.panel.lcd.rgb())
        .map_err(|e| fail(&e))
}
