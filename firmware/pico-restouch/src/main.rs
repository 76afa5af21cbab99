//! Digit recognition on the Waveshare Pico-ResTouch-LCD-2.8 plugged on a Raspberry Pi Pico 2
//! (RP2350, the default) or the original Pico (RP2040, feature `rp2040`): draw a digit with a
//! finger on the 320x240 ST7789 display, the XPT2046 touch controller tracks it, and the int8
//! cnn-bn model this binary embeds recognises it when the finger rests. Inference time comes
//! from the chip's 1 MHz hardware timer (embassy-time's driver) and goes to the screen and, with
//! every recognition, to the defmt log over RTT.
//!
//! This crate is the board: its wiring ([`Wiring`]), its facts (screen size, SPI clocks, the touch
//! panel's default calibration) and the poll loop. Everything a board does not decide is `app`'s.
//!
//! Hold a finger on the screen while the board powers up to calibrate the touch panel: three
//! crosses to touch, then the screen (and the log) shows the coefficients to put in
//! [`TOUCH_CALIBRATION`].
#![no_std]
#![no_main]

use core::cell::RefCell;

use app::calibration::{Calibrator, Event, Poll};
use app::layout::Layout;
use app::recognizer::Answer;
use app::session::Session;
use app::touch::{Calibration, Xpt2046};
use app::ui;
use defmt::{error, info, warn};
use embassy_embedded_hal::shared_bus::blocking::spi::SpiDeviceWithConfig;
use embassy_executor::Spawner;
use embassy_rp::Peri;
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{
    PIN_8, PIN_9, PIN_10, PIN_11, PIN_12, PIN_13, PIN_15, PIN_16, PIN_17, PIN_22, SPI1,
};
use embassy_rp::spi::{self, Blocking, Spi};
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Delay, Duration, Instant, Ticker};
use embedded_graphics::prelude::Size;
use mipidsi::interface::SpiInterface;
use mipidsi::models::ST7789;
use mipidsi::options::{ColorInversion, Orientation, Rotation};
use {defmt_rtt as _, panic_probe as _};

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
/// board: run the calibration (hold a finger on the screen at power-up) when touches land off
/// target, and put the coefficients it shows here.
pub const TOUCH_CALIBRATION: Calibration = Calibration::swapped_axes(
    (3880.0, 340.0),
    (262.0, 3850.0),
    SCREEN.width as f32,
    SCREEN.height as f32,
);

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
async fn main(_spawner: Spawner) {
    let wiring = Wiring::take(embassy_rp::init(Default::default()));
    info!("mnist-edge on the Pico-ResTouch-LCD-2.8");

    // SPI1 is shared: the display runs fast, the touch controller at most 2 MHz. Mode 3 suits
    // both (the ST7789 samples on the rising edge, the XPT2046 too).
    let spi_config = |frequency| {
        let mut config = spi::Config::default();
        config.frequency = frequency;
        config.phase = spi::Phase::CaptureOnSecondTransition;
        config.polarity = spi::Polarity::IdleHigh;
        config
    };
    let touch_config = spi_config(app::touch::MAX_SPI_HZ);
    let bus: Spi<'_, _, Blocking> = Spi::new_blocking(
        wiring.spi,
        wiring.spi_clock,
        wiring.spi_out,
        wiring.spi_in,
        touch_config.clone(),
    );
    let bus: Mutex<NoopRawMutex, _> = Mutex::new(RefCell::new(bus));
    let display_spi = SpiDeviceWithConfig::new(
        &bus,
        Output::new(wiring.lcd_select, Level::High),
        spi_config(DISPLAY_SPI_HZ),
    );
    let touch_spi = SpiDeviceWithConfig::new(
        &bus,
        Output::new(wiring.touch_select, Level::High),
        touch_config,
    );
    let pen_down = Input::new(wiring.touch_pen_down, Pull::Up);
    // The microSD slot shares SPI1 (the board's default, non-SDIO wiring). Left as an input,
    // its chip select sits between the pad's default pull-down and the card's own pull-up, and
    // a card that takes itself for selected answers on MISO while the touch panel is read.
    let _sd_card_deselected = Output::new(wiring.sd_select, Level::High);
    // Dark until the first screen is drawn: the panel's memory holds noise after power-up.
    let mut backlight = Output::new(wiring.lcd_backlight, Level::Low);

    let mut buffer = [0u8; 1024];
    let interface = SpiInterface::new(
        display_spi,
        Output::new(wiring.lcd_data_command, Level::Low),
        &mut buffer,
    );
    let display = mipidsi::Builder::new(ST7789, interface)
        .display_size(SCREEN.height as u16, SCREEN.width as u16)
        .orientation(Orientation::new().rotate(Rotation::Deg90))
        .invert_colors(ColorInversion::Inverted)
        .reset_pin(Output::new(wiring.lcd_reset, Level::Low))
        .init(&mut Delay);
    let Ok(mut display) = display else {
        error!("the display did not initialise");
        return;
    };
    let mut touch = Xpt2046::new(touch_spi);
    let Some(layout) = Layout::for_screen(SCREEN) else {
        error!("the layout does not fit the screen");
        return;
    };
    let mut session = match Session::<{ models::MODEL_SCRATCH_BYTES }>::new(model_bytes(), layout) {
        Ok(session) => session,
        Err(e) => {
            error!("the embedded model cannot run: {}", e);
            return;
        }
    };

    // A finger on the panel at power-up asks for the touch calibration.
    let mut calibration = TOUCH_CALIBRATION;
    let mut calibrator = pen_down
        .is_low()
        .then(|| Calibrator::new(&layout, TOUCH_CALIBRATION));
    let first = match &calibrator {
        Some(calibrator) => ui::draw_calibration(&calibrator.screen(), &layout, &mut display),
        None => ui::draw(&session.screen(), &mut display),
    };
    if first.is_err() {
        warn!("display write failed");
    }
    backlight.set_high();
    let mut now_us = || Instant::now().as_micros();
    let mut ticker = Ticker::every(POLL);
    loop {
        ticker.next().await;
        let pressed = pen_down.is_low();
        // The controller is read only while something touches.
        let reading = if pressed {
            match touch.read() {
                Ok(reading) => reading,
                Err(_) => {
                    warn!("touch read failed");
                    continue;
                }
            }
        } else {
            None
        };
        if let Some(calibrating) = &mut calibrator {
            let step = calibrating.step(pressed.then_some(Poll { pressed, reading }), now_us());
            let mut finished = None;
            match step.event {
                Some(Event::Touched { index, target, raw }) => info!(
                    "cross {=usize} at ({=i32}, {=i32}): raw ({=u16}, {=u16})",
                    index + 1,
                    target.x,
                    target.y,
                    raw.x,
                    raw.y
                ),
                Some(Event::Fitted(Ok(fitted))) => {
                    let [a, b, c, d, e, f] = fitted.coefficients;
                    info!(
                        "calibration coefficients: [{=f32}, {=f32}, {=f32}, {=f32}, {=f32}, {=f32}]",
                        a, b, c, d, e, f
                    );
                }
                Some(Event::Fitted(Err(e))) => {
                    warn!("calibration failed ({}), keeping the default", e);
                }
                Some(Event::Finished(chosen)) => finished = Some(chosen),
                None => {}
            }
            let drawn = if let Some(chosen) = finished {
                calibration = chosen;
                calibrator = None;
                ui::draw(&session.screen(), &mut display)
            } else if step.redraw {
                ui::draw_calibration(&calibrating.screen(), &layout, &mut display)
            } else {
                Ok(())
            };
            if drawn.is_err() {
                warn!("display write failed");
            }
            continue;
        }
        // Pressed but the reading is light or noisy: wait for a clean one.
        let point = match (pressed, reading) {
            (false, _) => None,
            (true, Some(raw)) => Some(calibration.to_screen(raw)),
            (true, None) => continue,
        };
        let update = match session.step(point, &mut now_us) {
            Ok(update) => update,
            Err(e) => {
                error!("inference refused: {}", e);
                continue;
            }
        };
        if let Some((digit, us)) = update.recognised {
            info!("recognised {=u8} in {=u32} us", digit, us);
            if let Some(Answer::Unsure { first, second }) =
                session.screen().prediction.map(|p| p.answer())
            {
                info!(
                    "not sure: {=u8} or {=u8}, the screen shows ?",
                    first, second
                );
            }
        }
        if ui::redraw(&session.screen(), &update, &mut display).is_err() {
            warn!("display write failed");
        }
    }
}
