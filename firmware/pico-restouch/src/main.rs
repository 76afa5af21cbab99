//! Digit recognition on the Waveshare Pico-ResTouch-LCD-2.8 plugged on a Raspberry Pi Pico 2
//! (RP2350, the default) or the original Pico (RP2040, feature `rp2040`): draw a digit with a
//! finger on the 320x240 ST7789 display, the XPT2046 touch controller tracks it, and the int8
//! model this binary embeds (`model_embed::BOARD_STAGE`) recognises it when the finger rests.
//! Inference time comes from the chip's 1 MHz hardware timer (embassy-time's driver) and goes to
//! the screen and, with every recognition, to the log: defmt over RTT for a debug probe, and the
//! same lines as text over USB serial ([`usb_log`]) for any serial terminal.
//!
//! This crate is the board: its wiring ([`Wiring`]), its facts (screen size, SPI clocks, the touch
//! panel's default calibration), its hardware behind `app`'s traits (the XPT2046 and its pen-down
//! line as a [`TouchPanel`], the flash sector as `app::controller::CalibrationStorage`), its log
//! and its fault handling. The poll loop is `app::controller::Controller`'s, as the simulator's is.
//!
//! Hold a finger on the screen while the board powers up to calibrate the touch panel: three
//! crosses to touch, then the screen (and the log) shows the fitted coefficients, which the
//! board keeps in the last sector of its flash ([`calibration_store`]) and uses from then on. At
//! every other power-up the first screen says for a few seconds which calibration it runs with:
//! the stored one, or [`TOUCH_CALIBRATION`] when none is stored or the stored record is
//! unreadable.
//!
//! When it cannot go on (the display does not initialise, the model cannot run, a panic) the
//! board says why on the screen, in white on dark red, and blinks the Pico's LED in the fault's
//! code (`app::fault`): the LED alone when the display is what failed.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::fmt::Write as _;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

use app::controller::{Controller, Report, Severity, TouchPanel};
use app::fault::{BlinkCode, Fault};
use app::layout::Layout;
use app::session::Session;
use app::touch::{Calibration, RawPoint, Xpt2046};
use app::ui;
use defmt_rtt as _;
use embassy_embedded_hal::shared_bus::blocking::spi::SpiDeviceWithConfig;
use embassy_executor::Spawner;
use embassy_rp::Peri;
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{
    FLASH, PIN_8, PIN_9, PIN_10, PIN_11, PIN_12, PIN_13, PIN_15, PIN_16, PIN_17, PIN_22, PIN_25,
    SPI1, USB,
};
use embassy_rp::spi::{self, Blocking, Spi};
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Duration, Instant, Ticker, Timer, block_for};
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::{DrawTarget, Size};
use mipidsi::interface::SpiInterface;
use mipidsi::models::ST7789;
use mipidsi::options::{ColorInversion, Orientation, Rotation};

mod calibration_store;
#[cfg(feature = "rp2350")]
mod second_core;
mod usb_log;

use calibration_store::{CalibrationStore, StoreError};

/// Logs one line both ways: defmt over RTT, for a probe, and the same text over USB serial.
/// The arguments are formatted by each (`{}` only, no defmt type hints), so plain values.
macro_rules! log {
    ($level:ident, $name:literal, $format:literal $(, $arg:expr)* $(,)?) => {{
        defmt::$level!($format $(, $arg)*);
        usb_log::line($name, format_args!($format $(, $arg)*));
    }};
}
macro_rules! info {
    ($($t:tt)*) => { log!(info, "INFO", $($t)*) };
}
macro_rules! warn {
    ($($t:tt)*) => { log!(warn, "WARN", $($t)*) };
}
macro_rules! error {
    ($($t:tt)*) => { log!(error, "ERROR", $($t)*) };
}

/// The model this binary runs and the scratch size it needs (written by `build.rs`).
mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

/// The display board's wiring, by role: the same GPIOs on both Picos, whose headers it plugs on.
/// The display, the touch controller and the microSD slot share SPI1.
struct Wiring {
    spi: Peri<'static, SPI1>,
    spi_clock: Peri<'static, PIN_10>,
    spi_out: Peri<'static, PIN_11>,
    spi_in: Peri<'static, PIN_12>,
    lcd_select: Peri<'static, PIN_9>,
    lcd_data_command: Peri<'static, PIN_8>,
    lcd_reset: Peri<'static, PIN_15>,
    lcd_backlight: Peri<'static, PIN_13>,
    touch_select: Peri<'static, PIN_16>,
    touch_pen_down: Peri<'static, PIN_17>,
    sd_select: Peri<'static, PIN_22>,
    /// On the Pico itself (both models): the fault blink code.
    status_led: Peri<'static, PIN_25>,
    /// The Pico's USB port: the log as text.
    usb: Peri<'static, USB>,
    /// The Pico's flash chip: its last sector keeps the touch calibration.
    flash: Peri<'static, FLASH>,
    /// The RP2350's second core: half of each convolution.
    #[cfg(feature = "rp2350")]
    core1: Peri<'static, embassy_rp::peripherals::CORE1>,
}

impl Wiring {
    fn take(p: embassy_rp::Peripherals) -> Self {
        Wiring {
            spi: p.SPI1,
            spi_clock: p.PIN_10,
            spi_out: p.PIN_11,
            spi_in: p.PIN_12,
            lcd_select: p.PIN_9,
            lcd_data_command: p.PIN_8,
            lcd_reset: p.PIN_15,
            lcd_backlight: p.PIN_13,
            touch_select: p.PIN_16,
            touch_pen_down: p.PIN_17,
            sd_select: p.PIN_22,
            status_led: p.PIN_25,
            usb: p.USB,
            flash: p.FLASH,
            #[cfg(feature = "rp2350")]
            core1: p.CORE1,
        }
    }
}

/// The ST7789 panel in landscape.
const SCREEN: Size = Size::new(320, 240);
/// The display's SPI clock, at most: the chip divides its peripheral clock by an even number
/// (RP2350: 150 MHz / 4 = 37.5 MHz; RP2040: 125 MHz / 4 = 31.25 MHz).
const DISPLAY_SPI_HZ: u32 = 40_000_000;
/// How often the touch panel is polled.
const POLL: Duration = Duration::from_millis(app::session::POLL_MS);
/// The touch panel in landscape (display rotated 90 degrees): the controller's Y axis runs along
/// the screen's x from raw ~3880 (left) to ~340 (right), its X axis along the screen's y from
/// ~262 (top) to ~3850 (bottom). These are the panel's nominal ranges, not a measurement of one
/// board: the default until a calibration (hold a finger on the screen at power-up) is stored.
pub const TOUCH_CALIBRATION: Calibration = Calibration::swapped_axes(
    (3880.0, 340.0),
    (262.0, 3850.0),
    SCREEN.width as f32,
    SCREEN.height as f32,
);

/// Where things go on the screen; a screen the layout does not fit fails the build.
const LAYOUT: Layout = match Layout::for_screen(SCREEN) {
    Some(layout) => layout,
    None => panic!("the layout does not fit the screen"),
};

/// The bytes of a panic message the fault screen and the log keep; the rest is cut.
const PANIC_MESSAGE_BYTES: usize = 160;

/// SPI1, shared by the display and the touch controller.
type Bus = Mutex<NoopRawMutex, RefCell<Spi<'static, SPI1, Blocking>>>;
/// One chip on the shared bus, with its own chip select and clock.
type BusDevice<'a> =
    SpiDeviceWithConfig<'a, NoopRawMutex, Spi<'static, SPI1, Blocking>, Output<'static>>;
/// The ST7789 panel, initialised.
type Panel<'a> =
    mipidsi::Display<SpiInterface<'a, BusDevice<'a>, Output<'static>>, ST7789, Output<'static>>;

/// SPI1's settings at `frequency`: mode 3 suits both chips (the ST7789 samples on the rising
/// edge, the XPT2046 too).
fn spi_config(frequency: u32) -> spi::Config {
    let mut config = spi::Config::default();
    config.frequency = frequency;
    config.phase = spi::Phase::CaptureOnSecondTransition;
    config.polarity = spi::Polarity::IdleHigh;
    config
}

/// SPI1 on its pins, at the touch controller's clock until a device asks for its own.
fn open_bus(
    spi: Peri<'static, SPI1>,
    clock: Peri<'static, PIN_10>,
    out: Peri<'static, PIN_11>,
    input: Peri<'static, PIN_12>,
) -> Bus {
    let bus = Spi::new_blocking(spi, clock, out, input, spi_config(app::touch::MAX_SPI_HZ));
    Mutex::new(RefCell::new(bus))
}

/// A blocking delay of at least what is asked. embassy-time's `Delay` counts whole timer ticks
/// from the current one, which may be nearly over, so it can end up to a tick (1 us) early: the
/// ST7789's 10 us reset pulse then falls short (the board emulator saw 9.9 us).
struct AtLeast;

impl embedded_hal::delay::DelayNs for AtLeast {
    fn delay_ns(&mut self, ns: u32) {
        block_for(Duration::from_nanos(u64::from(ns)) + Duration::from_ticks(1));
    }
}

/// Resets and initialises the ST7789 (landscape, inverted colours as the panel needs), or
/// `None` when it does not answer its init sequence.
fn init_panel<'a>(
    bus: &'a Bus,
    select: Peri<'static, PIN_9>,
    data_command: Peri<'static, PIN_8>,
    reset: Peri<'static, PIN_15>,
    buffer: &'a mut [u8],
) -> Option<Panel<'a>> {
    let device = SpiDeviceWithConfig::new(
        bus,
        Output::new(select, Level::High),
        spi_config(DISPLAY_SPI_HZ),
    );
    let interface = SpiInterface::new(device, Output::new(data_command, Level::Low), buffer);
    mipidsi::Builder::new(ST7789, interface)
        .display_size(SCREEN.height as u16, SCREEN.width as u16)
        .orientation(Orientation::new().rotate(Rotation::Deg90))
        .invert_colors(ColorInversion::Inverted)
        .reset_pin(Output::new(reset, Level::Low))
        .init(&mut AtLeast)
        .ok()
}

/// The XPT2046 on the shared bus, and its pen-down line.
struct RestouchPanel<'a> {
    controller: Xpt2046<BusDevice<'a>>,
    pen_down: Input<'static>,
}

impl TouchPanel for RestouchPanel<'_> {
    type Error = <BusDevice<'static> as embedded_hal::spi::ErrorType>::Error;

    fn pressed(&mut self) -> bool {
        self.pen_down.is_low()
    }

    fn read(&mut self) -> Result<Option<RawPoint>, Self::Error> {
        self.controller.read()
    }
}

/// Logs what the app reports, at its level.
fn log_report(report: Report<StoreError>) {
    match report.severity() {
        Severity::Info => info!("{}", report),
        Severity::Warn => warn!("{}", report),
        Severity::Error => error!("{}", report),
    }
}

/// Logs `fault` and shows it on `panel`, if there is one.
fn show_fault<D: DrawTarget<Color = Rgb565>>(fault: &Fault<'_>, panel: Option<&mut D>) {
    error!(
        "stopped: {}; the LED repeats {} blinks",
        fault.title(),
        fault.blink_code().blinks
    );
    if let Some(panel) = panel
        && ui::draw_fault(fault, panel).is_err()
    {
        warn!("display write failed");
    }
}

/// A blink code on the LED as endless steps: the level to set and how long to hold it.
fn blink_steps(code: BlinkCode) -> impl Iterator<Item = (Level, Duration)> {
    code.phases()
        .cycle()
        .map(|(on, ms)| (Level::from(on), Duration::from_millis(u64::from(ms))))
}

/// Where a board that stopped stays (after a blink code, which never ends).
fn halt() -> ! {
    loop {
        cortex_m::asm::wfe();
    }
}

/// Shows `fault` and repeats its blink code on the LED until the board is reset, with the
/// executor still running (so the USB log goes out).
async fn stop<D: DrawTarget<Color = Rgb565>>(
    fault: Fault<'_>,
    panel: Option<&mut D>,
    led: &mut Output<'_>,
) -> ! {
    show_fault(&fault, panel);
    for (level, hold) in blink_steps(fault.blink_code()) {
        led.set_level(level);
        Timer::after(hold).await;
    }
    halt()
}

/// Set by the first panic: a second one (in the fault screen's own code) only blinks.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Logs the panic, takes the display over and shows it there, and blinks its code.
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    cortex_m::interrupt::disable();
    let again = PANICKED.load(Ordering::Relaxed);
    PANICKED.store(true, Ordering::Relaxed);
    // SAFETY: interrupts are off, the second core never runs and this function does not return,
    // so nothing else uses the peripherals from here on: the handler owns them, whatever state
    // the code that panicked left them in (each is configured again before use).
    let wiring = Wiring::take(unsafe { embassy_rp::Peripherals::steal() });
    let mut led = Output::new(wiring.status_led, Level::Low);
    let mut message: heapless::String<PANIC_MESSAGE_BYTES> = heapless::String::new();
    // Cut where it stops fitting.
    let _ = write!(message, "{}", info.message());
    let (file, line) = info.location().map_or(("", 0), |at| (at.file(), at.line()));
    let fault = Fault::Panic {
        message: &message,
        file,
        line,
    };
    // Busy-waits: the executor and its timers stopped with the panic.
    let blink = |led: &mut Output<'_>| -> ! {
        for (level, hold) in blink_steps(fault.blink_code()) {
            led.set_level(level);
            block_for(hold);
        }
        halt()
    };
    if again {
        // Only the LED: what panicked this time is the fault screen's own code.
        blink(&mut led);
    }
    error!("panicked at {}:{}: {}", file, line, message.as_str());
    let bus = open_bus(wiring.spi, wiring.spi_clock, wiring.spi_out, wiring.spi_in);
    let _touch_deselected = Output::new(wiring.touch_select, Level::High);
    let _sd_card_deselected = Output::new(wiring.sd_select, Level::High);
    let mut buffer = [0u8; 64];
    let mut panel = init_panel(
        &bus,
        wiring.lcd_select,
        wiring.lcd_data_command,
        wiring.lcd_reset,
        &mut buffer,
    );
    let _backlight = Output::new(wiring.lcd_backlight, Level::from(panel.is_some()));
    show_fault(&fault, panel.as_mut());
    blink(&mut led)
}

/// The model's bytes where inference reads them: copied to SRAM with `model-in-ram` (the Pico
/// 2's default), in flash otherwise.
#[cfg(feature = "model-in-ram")]
fn model_bytes() -> &'static [u8] {
    use static_cell::ConstStaticCell;
    // Zero-initialised, so it sits in .bss: no second copy in flash, and the copy below is the
    // only write.
    static MODEL_IN_RAM: ConstStaticCell<[u8; models::MODEL_LEN]> =
        ConstStaticCell::new([0; models::MODEL_LEN]);
    let ram = MODEL_IN_RAM.take();
    ram.copy_from_slice(models::MODEL);
    ram
}

/// The model's bytes where inference reads them: in flash, through the XIP cache.
#[cfg(not(feature = "model-in-ram"))]
fn model_bytes() -> &'static [u8] {
    models::MODEL
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let wiring = Wiring::take(embassy_rp::init(Default::default()));
    usb_log::start(spawner, wiring.usb);
    info!("mnist-edge on the Pico-ResTouch-LCD-2.8");

    let mut led = Output::new(wiring.status_led, Level::Low);
    let bus = open_bus(wiring.spi, wiring.spi_clock, wiring.spi_out, wiring.spi_in);
    let touch_spi = SpiDeviceWithConfig::new(
        &bus,
        Output::new(wiring.touch_select, Level::High),
        spi_config(app::touch::MAX_SPI_HZ),
    );
    let pen_down = Input::new(wiring.touch_pen_down, Pull::Up);
    // The microSD slot shares SPI1 (the board's default, non-SDIO wiring). Left as an input,
    // its chip select sits between the pad's default pull-down and the card's own pull-up, and
    // a card that takes itself for selected answers on MISO while the touch panel is read.
    let _sd_card_deselected = Output::new(wiring.sd_select, Level::High);
    let mut backlight = Output::new(wiring.lcd_backlight, Level::Low);

    let mut buffer = [0u8; 1024];
    let Some(mut display) = init_panel(
        &bus,
        wiring.lcd_select,
        wiring.lcd_data_command,
        wiring.lcd_reset,
        &mut buffer,
    ) else {
        error!("the display did not initialise");
        stop::<Panel<'_>>(Fault::Display, None, &mut led).await;
    };
    // Lit as soon as the panel works, so that whatever comes next, a fault screen included, is
    // seen (for the few milliseconds before the first screen, the panel shows what its memory
    // held at power-up).
    backlight.set_high();
    let layout = LAYOUT;
    let session = match Session::<{ models::MODEL_SCRATCH_BYTES }>::new(model_bytes(), layout) {
        Ok(session) => session,
        Err(e) => {
            error!("the embedded model cannot run: {}", e);
            stop(Fault::Model(e), Some(&mut display), &mut led).await;
        }
    };
    // The Pico 2: half of each convolution on the second core.
    #[cfg(feature = "rp2350")]
    let session = {
        use static_cell::{ConstStaticCell, StaticCell};
        static SCRATCH: ConstStaticCell<[u8; models::MODEL_HELPER_SCRATCH_BYTES]> =
            ConstStaticCell::new([0; models::MODEL_HELPER_SCRATCH_BYTES]);
        static SECOND_CORE: StaticCell<second_core::SecondCore> = StaticCell::new();
        let mut session = session;
        let core = SECOND_CORE.init(second_core::SecondCore::start(wiring.core1));
        if let Err(e) = session.use_second_core(SCRATCH.take(), core) {
            error!("the second core cannot take its half: {}", e);
            stop(Fault::Model(e), Some(&mut display), &mut led).await;
        }
        session
    };
    let panel = RestouchPanel {
        controller: Xpt2046::new(touch_spi),
        pen_down,
    };
    // The calibration an earlier one stored, else the default; a finger on the panel at
    // power-up asks for a new one.
    let mut controller = Controller::start(
        panel,
        CalibrationStore::new(wiring.flash),
        session,
        TOUCH_CALIBRATION,
        Instant::now().as_micros(),
        &mut log_report,
    );
    if controller.draw(&mut display).is_err() {
        warn!("display write failed");
    }
    // The board emulator's check of the fault screen: a build that panics once the first screen
    // is up.
    if cfg!(feature = "test-panic") {
        panic!("a test build's panic, on purpose (feature test-panic)");
    }
    let mut now_us = || Instant::now().as_micros();
    let mut ticker = Ticker::every(POLL);
    loop {
        ticker.next().await;
        controller.poll(&mut now_us, &mut display, &mut log_report);
    }
}
