//! The XPT2046 resistive touch controller (on the Waveshare Pico-ResTouch-LCD-2.8, among others)
//! and the calibration that maps its 12-bit readings to screen pixels (a board's default lives
//! with the board; [`crate::calibration`] fits one from three touches).
//!
//! The driver is generic over an embedded-hal 1.0 [`SpiDevice`], so it is tested here on the
//! host with a simulated controller. Resistive panels are noisy, most of all while the finger
//! presses or lifts: each reading takes several samples per axis and is rejected when they
//! disagree or when the pressure is too light. Between readings the controller waits in
//! pen-detect mode (PENIRQ low on a touch); a reading's first conversion, made before the
//! plates settle from that bias, is discarded, and its last re-arms the pen interrupt.

use embedded_graphics::prelude::Point;
use embedded_hal::spi::{Operation, SpiDevice};

/// Control bytes: start bit, channel, 12-bit differential conversion; the power-down bits
/// (PD1, PD0) are added per conversion ([`KEEP_DRIVEN`], [`ARM_PEN_IRQ`]).
const READ_X: u8 = 0xD0;
const READ_Y: u8 = 0x90;
const READ_Z1: u8 = 0xB0;
const READ_Z2: u8 = 0xC0;
/// Power-down bits for the conversions inside a reading: the ADC stays on and the pen interrupt
/// off between them, so the panel's drive switches from one measurement to the next without
/// falling back to the pen-detect bias.
const KEEP_DRIVEN: u8 = 0b01;
/// Power-down bits for a reading's last conversion: power down with the pen interrupt enabled,
/// so PENIRQ reports the next touch (with `KEEP_DRIVEN` last, it would stay high for good).
const ARM_PEN_IRQ: u8 = 0b00;

/// Samples per axis; the median is used.
const SAMPLES: usize = 5;
/// Largest spread (in raw units) between the 2nd and 4th sorted samples of an axis: more means
/// the finger was moving or lifting during the reading.
const MAX_SPREAD: u16 = 60;
/// Smallest pressure estimate (`z1 + 4095 - z2`, raw units) counted as a touch.
const MIN_PRESSURE: u16 = 300;

/// The SPI clock the XPT2046 needs at most (its datasheet allows 2.5 MHz at 2.7 V).
pub const MAX_SPI_HZ: u32 = 2_000_000;

/// One reading of the controller, in raw 12-bit units (the controller's own X and Y axes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RawPoint {
    /// X axis reading, 0..=4095.
    pub x: u16,
    /// Y axis reading, 0..=4095.
    pub y: u16,
}

/// The touch controller on an SPI device (chip select handled by the device).
pub struct Xpt2046<SPI> {
    spi: SPI,
}

impl<SPI: SpiDevice> Xpt2046<SPI> {
    /// Wraps the SPI device of the controller (mode 0 or 3, at most [`MAX_SPI_HZ`]).
    pub fn new(spi: SPI) -> Self {
        Xpt2046 { spi }
    }

    /// One filtered reading: `None` when nothing presses the panel firmly or the samples
    /// disagree (finger moving or lifting). Leaves the pen interrupt armed, even when a
    /// transfer fails.
    pub fn read(&mut self) -> Result<Option<RawPoint>, SPI::Error> {
        let reading = self.sample();
        let armed = self.convert(READ_Z1 | ARM_PEN_IRQ);
        let reading = reading?;
        armed?;
        Ok(reading)
    }

    fn sample(&mut self) -> Result<Option<RawPoint>, SPI::Error> {
        // The first conversion after pen-detect samples the panel before its plates have left
        // the pen-detect bias (PaulStoffregen's XPT2046_Touchscreen discards it too: "1st is
        // always noisy"): thrown away.
        self.convert(READ_Z1 | KEEP_DRIVEN)?;
        let z1 = self.convert(READ_Z1 | KEEP_DRIVEN)?;
        let z2 = self.convert(READ_Z2 | KEEP_DRIVEN)?;
        let pressure = (z1 + 4095).saturating_sub(z2);
        if z1 == 0 || pressure < MIN_PRESSURE {
            return Ok(None);
        }
        let mut xs = [0u16; SAMPLES];
        let mut ys = [0u16; SAMPLES];
        for (x, y) in xs.iter_mut().zip(ys.iter_mut()) {
            *x = self.convert(READ_X | KEEP_DRIVEN)?;
            *y = self.convert(READ_Y | KEEP_DRIVEN)?;
        }
        Ok(median(&mut xs)
            .zip(median(&mut ys))
            .map(|(x, y)| RawPoint { x, y }))
    }

    /// One 12-bit conversion: the control byte, then the result's 12 bits left-aligned in the
    /// next 16 clocks (after one busy clock).
    fn convert(&mut self, control: u8) -> Result<u16, SPI::Error> {
        let mut result = [0u8; 2];
        self.spi
            .transaction(&mut [Operation::Write(&[control]), Operation::Read(&mut result)])?;
        Ok((u16::from_be_bytes(result) >> 3) & 0x0FFF)
    }
}

/// The median of the samples, or `None` when their middle half spreads more than
/// [`MAX_SPREAD`].
fn median(samples: &mut [u16; SAMPLES]) -> Option<u16> {
    samples.sort_unstable();
    let (low, mid, high) = (samples[1], samples[SAMPLES / 2], samples[SAMPLES - 2]);
    (high - low <= MAX_SPREAD).then_some(mid)
}

/// The affine map from raw readings to screen pixels: `x = a*rx + b*ry + c`,
/// `y = d*rx + e*ry + f`. It covers any rotation, mirroring, scale and offset of the panel
/// relative to the display, so three touched targets determine it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Coefficients `[a, b, c, d, e, f]`.
    pub coefficients: [f32; 6],
}

/// Why a calibration could not be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CalibrationError {
    /// The three raw readings are (nearly) on one line: touch the targets again.
    Collinear,
}

impl core::fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CalibrationError::Collinear => f.write_str("the three touches lie on a line"),
        }
    }
}

impl Calibration {
    /// Raw readings that are screen pixels already (the simulator's mouse).
    pub const IDENTITY: Calibration = Calibration {
        coefficients: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    /// The map of a panel mounted with its axes swapped, as a display in landscape has them:
    /// the controller's Y axis runs along the screen's x, from raw `y_at_left_right.0` at the
    /// left edge to `.1` at the right edge (`width` pixels), its X axis along the screen's y,
    /// from `x_at_top_bottom.0` at the top to `.1` at the bottom (`height` pixels).
    pub const fn swapped_axes(
        y_at_left_right: (f32, f32),
        x_at_top_bottom: (f32, f32),
        width: f32,
        height: f32,
    ) -> Calibration {
        let (left, right) = y_at_left_right;
        let (top, bottom) = x_at_top_bottom;
        Calibration {
            coefficients: [
                0.0,
                width / (right - left),
                -left * width / (right - left),
                height / (bottom - top),
                0.0,
                -top * height / (bottom - top),
            ],
        }
    }

    /// Solves the map that sends each raw reading to its screen target (Cramer's rule).
    pub fn from_touches(
        targets: [Point; 3],
        raw: [RawPoint; 3],
    ) -> Result<Calibration, CalibrationError> {
        let [p0, p1, p2] = raw.map(|r| (f32::from(r.x), f32::from(r.y)));
        let det = p0.0 * (p1.1 - p2.1) - p1.0 * (p0.1 - p2.1) + p2.0 * (p0.1 - p1.1);
        // Readings spanning less than a few raw units of area cannot define a map.
        if det.abs() < 1000.0 {
            return Err(CalibrationError::Collinear);
        }
        let solve = |v: [f32; 3]| {
            let a = (v[0] * (p1.1 - p2.1) - v[1] * (p0.1 - p2.1) + v[2] * (p0.1 - p1.1)) / det;
            let b = (p0.0 * (v[1] - v[2]) - p1.0 * (v[0] - v[2]) + p2.0 * (v[0] - v[1])) / det;
            let c = (p0.0 * (p1.1 * v[2] - p2.1 * v[1]) - p1.0 * (p0.1 * v[2] - p2.1 * v[0])
                + p2.0 * (p0.1 * v[1] - p1.1 * v[0]))
                / det;
            [a, b, c]
        };
        let [a, b, c] = solve(targets.map(|t| t.x as f32));
        let [d, e, f] = solve(targets.map(|t| t.y as f32));
        Ok(Calibration {
            coefficients: [a, b, c, d, e, f],
        })
    }

    /// The screen pixel of a raw reading (rounded; may lie off screen).
    pub fn to_screen(&self, raw: RawPoint) -> Point {
        let [a, b, c, d, e, f] = self.coefficients;
        let (rx, ry) = (f32::from(raw.x), f32::from(raw.y));
        Point::new(
            libm::roundf(a * rx + b * ry + c) as i32,
            libm::roundf(d * rx + e * ry + f) as i32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panel rotated and mirrored as the Pico-ResTouch-LCD-2.8 in landscape: the controller's
    /// Y axis runs along the screen's x from raw 3880 to 340, its X axis along y from 262 to 3850.
    const NOMINAL: Calibration =
        Calibration::swapped_axes((3880.0, 340.0), (262.0, 3850.0), 320.0, 240.0);

    fn targets() -> [Point; 3] {
        crate::layout::Layout::for_screen(embedded_graphics::prelude::Size::new(320, 240))
            .unwrap()
            .calibration_targets()
    }

    #[test]
    fn three_touches_recover_a_rotated_mirrored_panel() {
        let truth = NOMINAL;
        let targets = targets();
        // Raw readings that the nominal panel would give at the targets.
        let raw = targets.map(|t| RawPoint {
            x: libm::roundf(262.0 + t.y as f32 * (3850.0 - 262.0) / 240.0) as u16,
            y: libm::roundf(3880.0 + t.x as f32 * (340.0 - 3880.0) / 320.0) as u16,
        });
        let fitted = Calibration::from_touches(targets, raw).unwrap();
        for (t, r) in targets.iter().zip(raw) {
            assert_eq!(fitted.to_screen(r), *t);
            let nominal = truth.to_screen(r);
            assert!((nominal - *t).x.abs() <= 1 && (nominal - *t).y.abs() <= 1);
        }
        let corner = RawPoint { x: 262, y: 3880 };
        assert_eq!(fitted.to_screen(corner), Point::new(0, 0));
    }

    #[test]
    fn collinear_touches_are_refused() {
        let raw = [100, 2000, 3900].map(|v| RawPoint { x: v, y: v });
        assert_eq!(
            Calibration::from_touches(targets(), raw),
            Err(CalibrationError::Collinear)
        );
    }

    /// A simulated controller: a finger at raw (x, y) with pressure readings z1/z2 and a
    /// per-conversion jitter pattern. A conversion that starts from pen-detect (the previous
    /// control byte left the pen interrupt on) reads 0, the grounded plate not yet driven: the
    /// worst an unsettled conversion can be.
    struct Panel {
        touch: Option<(u16, u16)>,
        jitter: &'static [i16],
        conversions: usize,
        control: u8,
        pen_detect: bool,
    }

    impl embedded_hal::spi::ErrorType for Panel {
        type Error = core::convert::Infallible;
    }

    impl SpiDevice for Panel {
        fn transaction(&mut self, ops: &mut [Operation<'_, u8>]) -> Result<(), Self::Error> {
            for op in ops {
                match op {
                    Operation::Write([control]) => self.control = *control,
                    Operation::Read(out) => {
                        let jitter = self.jitter[self.conversions % self.jitter.len()];
                        self.conversions += 1;
                        let value = match (self.touch, self.control & !0b11) {
                            (None, READ_Z1) => 0,
                            (None, _) => 4095,
                            (Some(_), READ_Z1) => 900,
                            (Some(_), READ_Z2) => 3000,
                            (Some((x, _)), READ_X) => x.saturating_add_signed(jitter),
                            (Some((_, y)), _) => y.saturating_add_signed(jitter),
                        };
                        let value = if self.pen_detect { 0 } else { value };
                        self.pen_detect = self.control & 0b01 == 0;
                        out.copy_from_slice(&(value << 3).to_be_bytes());
                    }
                    _ => unreachable!("the driver only writes a control byte and reads"),
                }
            }
            Ok(())
        }
    }

    fn panel(touch: Option<(u16, u16)>, jitter: &'static [i16]) -> Xpt2046<Panel> {
        Xpt2046::new(Panel {
            touch,
            jitter,
            conversions: 0,
            control: 0,
            pen_detect: true,
        })
    }

    #[test]
    fn a_reading_starts_settled_and_ends_with_the_pen_interrupt_armed() {
        for touch in [None, Some((1200, 2900))] {
            let mut controller = panel(touch, &[0]);
            for _ in 0..3 {
                let expected = touch.map(|(x, y)| RawPoint { x, y });
                assert_eq!(controller.read(), Ok(expected), "{touch:?}");
                assert!(controller.spi.pen_detect, "PENIRQ left off after {touch:?}");
            }
        }
    }

    #[test]
    fn a_firm_touch_reads_as_the_median_of_noisy_samples() {
        let mut touch = panel(
            Some((1200, 2900)),
            &[0, 0, 0, 3, -2, 5, -4, 400, 1, -1, -300],
        );
        assert_eq!(touch.read(), Ok(Some(RawPoint { x: 1203, y: 2898 })));
    }

    #[test]
    fn no_touch_and_a_sliding_finger_read_as_nothing() {
        assert_eq!(panel(None, &[0]).read(), Ok(None));
        let mut sliding = panel(Some((1200, 2900)), &[0, 0, -200, -100, 0, 100, 200, 300]);
        assert_eq!(sliding.read(), Ok(None));
    }

    #[test]
    fn the_median_rejects_spread_samples() {
        assert_eq!(median(&mut [500, 510, 505, 4000, 0]), Some(505));
        assert_eq!(median(&mut [500, 700, 900, 1100, 1300]), None);
    }
}
