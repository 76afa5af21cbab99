//! Digit recognition on a Raspberry Pi Pico 2 (RP2350) with the Waveshare
//! Pico-ResTouch-LCD-2.8 plugged on: draw a digit with a finger on the 320x240 ST7789 display,
//! the XPT2046 touch controller tracks it, and the int8 cnn-bn model (embedded by `app`)
//! recognises it when the finger rests. Inference time comes from the chip's 1 MHz hardware
//! timer (embassy-time's driver) and goes to the screen and, with every recognition, to the
//! defmt log over RTT. The same code builds for the original Pico (RP2040, Cortex-M0+) with the
//! `rp2040` feature; the display board fits both.
//!
//! Hold a finger on the screen while the board powers up to calibrate the touch panel: three
//! crosses to touch, then the coefficients are logged so they can replace the default in
//! `app::touch::Calibration`.
#![no_std]
#![no_main]

use core::cell::RefCell;

use app::session::Session;
use app::touch::{Calibration, CalibrationError, Xpt2046};
use app::ui;
use defmt::{error, info, warn};
use embassy_embedded_hal::shared_bus::blocking::spi::SpiDeviceWithConfig;
use embassy_executor::Spawner;
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::spi::{self, Blocking, Spi};
use embassy_sync::blocking_mutex::Mutex;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Delay, Duration, Instant, Ticker, Timer};
use embedded_hal::spi::SpiDevice;
use mipidsi::interface::SpiInterface;
use mipidsi::models::ST7789;
use mipidsi::options::{ColorInversion, Orientation, Rotation};
use {defmt_rtt as _, panic_probe as _};

/// The display's SPI clock, at most: the chip divides its peripheral clock by an even number
/// (RP2350: 150 MHz / 4 = 37.5 MHz; RP2040: 125 MHz / 4 = 31.25 MHz).
const DISPLAY_SPI_HZ: u32 = 40_000_000;
/// How often the touch panel is polled.
const POLL: Duration = Duration::from_millis(app::session::POLL_MS);

/// The model's bytes where inference reads them: copied to SRAM with `model-in-ram` (the Pico
/// 2's default), in flash otherwise.
#[cfg(feature = "model-in-ram")]
fn model_bytes() -> &'static [u8] {
    use static_cell::ConstStaticCell;
    // Zero-initialised, so it sits in .bss: no second copy in flash, and the copy below is the
    // only write.
    static MODEL_IN_RAM: ConstStaticCell<[u8; app::recognizer::MODEL_BYTES]> =
        ConstStaticCell::new([0; app::recognizer::MODEL_BYTES]);
    let ram = MODEL_IN_RAM.take();
    ram.copy_from_slice(app::recognizer::MODEL);
    ram
}

/// The model's bytes where inference reads them: in flash, through the XIP cache.
#[cfg(not(feature = "model-in-ram"))]
fn model_bytes() -> &'static [u8] {
    app::recognizer::MODEL
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    let p = embassy_rp::init(Default::default());
    info!("mnist-edge on the Pico 2");

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
    let bus: Spi<'_, _, Blocking> =
        Spi::new_blocking(p.SPI1, p.PIN_10, p.PIN_11, p.PIN_12, touch_config.clone());
    let bus: Mutex<NoopRawMutex, _> = Mutex::new(RefCell::new(bus));
    let display_spi = SpiDeviceWithConfig::new(
        &bus,
        Output::new(p.PIN_9, Level::High),
        spi_config(DISPLAY_SPI_HZ),
    );
    let touch_spi =
        SpiDeviceWithConfig::new(&bus, Output::new(p.PIN_16, Level::High), touch_config);
    let pen_down = Input::new(p.PIN_17, Pull::Up);
    // The microSD slot shares SPI1 (the board's default, non-SDIO wiring). Left as an input,
    // its chip select sits between the pad's default pull-down and the card's own pull-up, and
    // a card that takes itself for selected answers on MISO while the touch panel is read.
    let _sd_card_deselected = Output::new(p.PIN_22, Level::High);
    // Dark until the first screen is drawn: the panel's memory holds noise after power-up.
    let mut backlight = Output::new(p.PIN_13, Level::Low);

    let mut buffer = [0u8; 1024];
    let interface = SpiInterface::new(display_spi, Output::new(p.PIN_8, Level::Low), &mut buffer);
    let display = mipidsi::Builder::new(ST7789, interface)
        .display_size(240, 320)
        .orientation(Orientation::new().rotate(Rotation::Deg90))
        .invert_colors(ColorInversion::Inverted)
        .reset_pin(Output::new(p.PIN_15, Level::Low))
        .init(&mut Delay);
    let Ok(mut display) = display else {
        error!("the display did not initialise");
        return;
    };
    let mut touch = Xpt2046::new(touch_spi);

    let mut session = match Session::with_model(model_bytes()) {
        Ok(session) => session,
        Err(e) => {
            error!("the embedded model does not parse: {}", e);
            return;
        }
    };

    let calibration = if pen_down.is_low() {
        if ui::draw_calibration_prompt(&mut display).is_err() {
            warn!("display write failed");
        }
        backlight.set_high();
        calibrate(&mut touch, &pen_down, &mut display).await
    } else {
        Calibration::PICO_RESTOUCH_2_8
    };
    if ui::draw(&session.screen(), &mut display).is_err() {
        warn!("display write failed");
    }
    backlight.set_high();
    let mut now_us = || Instant::now().as_micros();
    let mut ticker = Ticker::every(POLL);
    loop {
        ticker.next().await;
        // The pen-down line says whether anything touches; only then is the controller read.
        let point = if pen_down.is_high() {
            None
        } else {
            match touch.read() {
                Ok(Some(raw)) => Some(calibration.to_screen(raw)),
                // Pressed but the reading is light or noisy: wait for a clean one.
                Ok(None) => continue,
                Err(_) => {
                    warn!("touch read failed");
                    continue;
                }
            }
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
        }
        if ui::redraw(&session.screen(), &update, &mut display).is_err() {
            warn!("display write failed");
        }
    }
}

/// Waits for the finger held at power-up to lift (the prompt is on screen), then asks for a
/// touch on three crosses and fits the raw-to-screen map; logs it. Falls back to the default
/// when the touches are unusable.
async fn calibrate<SPI: SpiDevice, D>(
    touch: &mut Xpt2046<SPI>,
    pen_down: &Input<'_>,
    display: &mut D,
) -> Calibration
where
    D: embedded_graphics::draw_target::DrawTarget<Color = embedded_graphics::pixelcolor::Rgb565>,
{
    info!("touch calibration: release the screen, then touch each cross");
    let targets = Calibration::targets(ui::SCREEN.width as i32, ui::SCREEN.height as i32);
    let mut raw = [app::touch::RawPoint { x: 0, y: 0 }; 3];
    for (index, (&target, slot)) in targets.iter().zip(raw.iter_mut()).enumerate() {
        wait_for_release(pen_down).await;
        if ui::draw_calibration_target(target, index, display).is_err() {
            warn!("display write failed");
        }
        *slot = loop {
            Timer::after(POLL).await;
            if pen_down.is_low()
                && let Ok(Some(reading)) = touch.read()
            {
                break reading;
            }
        };
        info!(
            "cross {=usize} at ({=i32}, {=i32}): raw ({=u16}, {=u16})",
            index + 1,
            target.x,
            target.y,
            slot.x,
            slot.y
        );
    }
    wait_for_release(pen_down).await;
    match Calibration::from_touches(targets, raw) {
        Ok(calibration) => {
            let [a, b, c, d, e, f] = calibration.coefficients;
            info!(
                "calibration coefficients: [{=f32}, {=f32}, {=f32}, {=f32}, {=f32}, {=f32}]",
                a, b, c, d, e, f
            );
            calibration
        }
        Err(CalibrationError::Collinear) => {
            warn!("calibration failed (the three touches lie on a line), keeping the default");
            Calibration::PICO_RESTOUCH_2_8
        }
    }
}

/// Waits until the finger has been off the panel for a moment.
async fn wait_for_release(pen_down: &Input<'_>) {
    let mut since = Instant::now();
    while Instant::now() - since < Duration::from_millis(300) {
        Timer::after(POLL).await;
        if pen_down.is_low() {
            since = Instant::now();
        }
    }
}
