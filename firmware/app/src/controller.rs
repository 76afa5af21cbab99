//! The board's poll loop, written once for every board: at power-up the stored touch
//! calibration (or the board's default), and the calibration itself when a finger is on the
//! panel; then, at every poll, the touch panel read, the calibration or the [`Session`] stepped,
//! what changed redrawn, and what happened reported for the log. A board supplies only its
//! hardware, through two traits ([`TouchPanel`], [`CalibrationStorage`]) and an embedded-graphics
//! display, and its clock and its log: the Pico-ResTouch firmware with its XPT2046 and flash,
//! the desktop simulator with the mouse and no flash, the same [`Controller`].
//!
//! ```no_run
//! use app::controller::{CalibrationStorage, Controller, Report, TouchPanel};
//! use app::layout::Layout;
//! use app::session::Session;
//! use app::touch::{Calibration, RawPoint};
//! use embedded_graphics::mock_display::MockDisplay;
//! use embedded_graphics::pixelcolor::Rgb565;
//! use embedded_graphics::prelude::Size;
//!
//! struct Untouched;
//! impl TouchPanel for Untouched {
//!     type Error = ();
//!     fn pressed(&mut self) -> bool { false }
//!     fn read(&mut self) -> Result<Option<RawPoint>, ()> { Ok(None) }
//! }
//! struct Forgetful;
//! impl CalibrationStorage for Forgetful {
//!     type Error = &'static str;
//!     fn load(&mut self) -> Result<Option<Calibration>, Self::Error> { Ok(None) }
//!     fn save(&mut self, _: &Calibration) -> Result<(), Self::Error> { Err("no flash") }
//!     fn flash_offset(&self) -> u32 { 0 }
//! }
//!
//! # let model: &'static [u8] = &[];
//! let layout = Layout::for_screen(Size::new(320, 240)).unwrap();
//! let session = Session::<32_768>::new(model, layout).unwrap();
//! let mut log = |report: Report<&str>| println!("{report}");
//! let mut controller =
//!     Controller::start(Untouched, Forgetful, session, Calibration::IDENTITY, 0, &mut log);
//! let mut display = MockDisplay::<Rgb565>::new();
//! controller.draw(&mut display).unwrap();
//! let mut clock = 0u64;
//! controller.poll(&mut || { clock += 10_000; clock }, &mut display, &mut log);
//! ```

use core::fmt;

use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::{DrawTarget, Point};
use runtime_nostd::InferError;

use crate::calibration::{Calibrator, Event, Poll, Source};
use crate::recognizer::Answer;
use crate::session::Session;
use crate::touch::{Calibration, CalibrationError, RawPoint};
use crate::ui::{self, Decimal};

/// A touch panel as the loop polls it: a cheap "something touches" line, and a reading of the
/// controller, taken only while something touches.
pub trait TouchPanel {
    /// Why a reading failed (a bus error).
    type Error;
    /// Whether something touches the panel now (the XPT2046's pen-down line).
    fn pressed(&mut self) -> bool;
    /// One filtered reading in the panel's raw units, or `None` when the touch is too light or
    /// moving to read cleanly.
    fn read(&mut self) -> Result<Option<RawPoint>, Self::Error>;
}

/// Where a board keeps the fitted touch calibration across power cycles.
pub trait CalibrationStorage {
    /// Why the calibration could not be read or kept.
    type Error: fmt::Display;
    /// The stored calibration, `None` when none was ever stored.
    fn load(&mut self) -> Result<Option<Calibration>, Self::Error>;
    /// Keeps `calibration` for the next power-ups.
    fn save(&mut self, calibration: &Calibration) -> Result<(), Self::Error>;
    /// Where in the flash it keeps it, for the log.
    fn flash_offset(&self) -> u32;
}

/// How much a report matters to whoever reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// What the board did.
    Info,
    /// Something failed and the board went on.
    Warn,
    /// Something failed that the user sees.
    Error,
}

/// What happened, for the board's log; `StoreError` is the storage's error. Its `Display` is
/// the log line, the same on every board.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Report<StoreError> {
    /// At power-up: the stored calibration is in use.
    StoredCalibration(Calibration),
    /// At power-up: none is stored, the board's default is in use.
    DefaultCalibration,
    /// At power-up: the stored one cannot be read, the board's default is in use.
    StoredCalibrationUnreadable(StoreError),
    /// The touch controller did not answer; the poll is skipped.
    TouchReadFailed,
    /// The display did not take a write.
    DisplayWriteFailed,
    /// A calibration cross was touched.
    CrossTouched {
        /// 0, 1 or 2.
        index: usize,
        /// The cross.
        target: Point,
        /// The reading.
        raw: RawPoint,
    },
    /// The three touches gave this map.
    CalibrationFitted(Calibration),
    /// The fitted map could not be computed; the one before stays.
    CalibrationFailed(CalibrationError),
    /// The fitted map is kept for the next power-ups, at this flash offset.
    CalibrationStored {
        /// Bytes from the start of flash.
        flash_offset: u32,
    },
    /// The fitted map could not be kept: it holds until the next reset.
    CalibrationNotStored(StoreError),
    /// The model refused the drawing.
    InferenceRefused(InferError),
    /// The drawing was recognised as `digit` in `us` microseconds.
    Recognised {
        /// The answer.
        digit: u8,
        /// Inference time.
        us: u32,
    },
    /// The model is unsure between two digits; the screen shows "?".
    Unsure {
        /// The likeliest.
        first: u8,
        /// The second likeliest.
        second: u8,
    },
}

impl<StoreError> Report<StoreError> {
    /// How much it matters.
    pub fn severity(&self) -> Severity {
        match self {
            Report::StoredCalibration(_)
            | Report::DefaultCalibration
            | Report::CrossTouched { .. }
            | Report::CalibrationFitted(_)
            | Report::CalibrationStored { .. }
            | Report::Recognised { .. }
            | Report::Unsure { .. } => Severity::Info,
            Report::StoredCalibrationUnreadable(_)
            | Report::TouchReadFailed
            | Report::DisplayWriteFailed
            | Report::CalibrationFailed(_)
            | Report::CalibrationNotStored(_) => Severity::Warn,
            Report::InferenceRefused(_) => Severity::Error,
        }
    }
}

/// A calibration's coefficients for the log: five decimals, within 0.05 px over the panel's
/// raw range.
fn coefficients(f: &mut fmt::Formatter<'_>, calibration: &Calibration) -> fmt::Result {
    let [a, b, c, d, e, g] = calibration
        .coefficients
        .map(|value| Decimal { value, decimals: 5 });
    write!(f, "[{a}, {b}, {c}, {d}, {e}, {g}]")
}

impl<StoreError: fmt::Display> fmt::Display for Report<StoreError> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::StoredCalibration(calibration) => {
                f.write_str("touch calibration: stored in flash, ")?;
                coefficients(f, calibration)
            }
            Report::DefaultCalibration => {
                f.write_str("touch calibration: the default (none stored)")
            }
            Report::StoredCalibrationUnreadable(e) => write!(
                f,
                "touch calibration: the default, the stored one is unreadable ({e})"
            ),
            Report::TouchReadFailed => f.write_str("touch read failed"),
            Report::DisplayWriteFailed => f.write_str("display write failed"),
            Report::CrossTouched { index, target, raw } => write!(
                f,
                "cross {} at ({}, {}): raw ({}, {})",
                index + 1,
                target.x,
                target.y,
                raw.x,
                raw.y
            ),
            Report::CalibrationFitted(calibration) => {
                f.write_str("calibration coefficients: ")?;
                coefficients(f, calibration)
            }
            Report::CalibrationFailed(e) => {
                write!(f, "calibration failed ({e}), keeping the one before")
            }
            Report::CalibrationStored { flash_offset } => {
                write!(f, "calibration stored in flash at offset {flash_offset}")
            }
            Report::CalibrationNotStored(e) => {
                write!(
                    f,
                    "calibration not stored ({e}): it holds until the next reset"
                )
            }
            Report::InferenceRefused(e) => write!(f, "inference refused: {e}"),
            Report::Recognised { digit, us } => write!(f, "recognised {digit} in {us} us"),
            Report::Unsure { first, second } => {
                write!(f, "not sure: {first} or {second}, the screen shows ?")
            }
        }
    }
}

#[cfg(feature = "defmt")]
impl<StoreError: fmt::Display> defmt::Format for Report<StoreError> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", defmt::Display2Format(self));
    }
}

/// Under the calibration's result: the fit was kept in flash.
pub const KEPT_NOTE: &str = "Kept in flash for the next power-ups.";
/// Under the calibration's result: it was not (the reason is in the log: too long for the line).
pub const NOT_KEPT_NOTE: &str = "Not kept in flash (the log says why).";

/// The app on a board: its touch panel `P`, its calibration storage `S`, and the session with
/// the model's scratch of `SCRATCH` bytes.
pub struct Controller<P, S, const SCRATCH: usize> {
    panel: P,
    storage: S,
    session: Session<SCRATCH>,
    /// The map from raw readings to screen pixels in use.
    calibration: Calibration,
    /// The calibration in progress, if any.
    calibrator: Option<Calibrator>,
}

impl<P: TouchPanel, S: CalibrationStorage, const SCRATCH: usize> Controller<P, S, SCRATCH> {
    /// Power-up at `now_us`: the stored calibration, else `default`; a finger on the panel now
    /// starts a new calibration, otherwise the first screen says which one is in use. Draw the
    /// screen with [`draw`](Self::draw) next.
    pub fn start(
        mut panel: P,
        mut storage: S,
        mut session: Session<SCRATCH>,
        default: Calibration,
        now_us: u64,
        report: &mut impl FnMut(Report<S::Error>),
    ) -> Self {
        let (calibration, source) = match storage.load() {
            Ok(Some(stored)) => {
                report(Report::StoredCalibration(stored));
                (stored, Source::Stored)
            }
            Ok(None) => {
                report(Report::DefaultCalibration);
                (default, Source::Default)
            }
            Err(e) => {
                report(Report::StoredCalibrationUnreadable(e));
                (default, Source::DefaultStoredUnreadable)
            }
        };
        let calibrator = panel
            .pressed()
            .then(|| Calibrator::new(session.layout(), calibration));
        if calibrator.is_none() {
            session.show_notice(source, now_us);
        }
        Controller {
            panel,
            storage,
            session,
            calibration,
            calibrator,
        }
    }

    /// Draws the whole screen: the calibration's, or the app's.
    pub fn draw<D: DrawTarget<Color = Rgb565>>(&self, display: &mut D) -> Result<(), D::Error> {
        match &self.calibrator {
            Some(calibrator) => {
                ui::draw_calibration(&calibrator.screen(), self.session.layout(), display)
            }
            None => ui::draw(&self.session.screen(), display),
        }
    }

    /// One poll of the touch panel (every [`POLL_MS`](crate::session::POLL_MS)): steps the
    /// calibration or the session, redraws what changed on `display`, and reports what happened.
    /// `now_us` is a microsecond clock; it also times inference.
    pub fn poll<D: DrawTarget<Color = Rgb565>>(
        &mut self,
        now_us: &mut impl FnMut() -> u64,
        display: &mut D,
        report: &mut impl FnMut(Report<S::Error>),
    ) {
        let pressed = self.panel.pressed();
        // The controller is read only while something touches.
        let reading = if pressed {
            match self.panel.read() {
                Ok(reading) => reading,
                Err(_) => return report(Report::TouchReadFailed),
            }
        } else {
            None
        };
        let drawn = if self.calibrator.is_some() {
            self.calibrate(Poll { pressed, reading }, now_us(), display, report)
        } else {
            self.recognise(Poll { pressed, reading }, now_us, display, report)
        };
        if drawn.is_err() {
            report(Report::DisplayWriteFailed);
        }
    }

    /// A poll while calibrating.
    fn calibrate<D: DrawTarget<Color = Rgb565>>(
        &mut self,
        poll: Poll,
        now_us: u64,
        display: &mut D,
        report: &mut impl FnMut(Report<S::Error>),
    ) -> Result<(), D::Error> {
        let Some(calibrator) = &mut self.calibrator else {
            return Ok(());
        };
        let step = calibrator.step(poll.pressed.then_some(poll), now_us);
        // Under the result: whether the fit was kept.
        let mut note = "";
        let mut finished = None;
        match step.event {
            Some(Event::Touched { index, target, raw }) => {
                report(Report::CrossTouched { index, target, raw })
            }
            Some(Event::Fitted(Ok(fitted))) => {
                report(Report::CalibrationFitted(fitted));
                match self.storage.save(&fitted) {
                    Ok(()) => {
                        let flash_offset = self.storage.flash_offset();
                        report(Report::CalibrationStored { flash_offset });
                        note = KEPT_NOTE;
                    }
                    Err(e) => {
                        report(Report::CalibrationNotStored(e));
                        note = NOT_KEPT_NOTE;
                    }
                }
            }
            Some(Event::Fitted(Err(e))) => report(Report::CalibrationFailed(e)),
            Some(Event::Finished(chosen)) => finished = Some(chosen),
            None => {}
        }
        let layout = self.session.layout();
        if let Some(chosen) = finished {
            self.calibration = chosen;
            self.calibrator = None;
            ui::draw(&self.session.screen(), display)
        } else if step.redraw {
            ui::draw_calibration(&calibrator.screen(), layout, display)
                .and_then(|()| ui::draw_calibration_note(note, layout, display))
        } else {
            Ok(())
        }
    }

    /// A poll of the app.
    fn recognise<D: DrawTarget<Color = Rgb565>>(
        &mut self,
        poll: Poll,
        now_us: &mut impl FnMut() -> u64,
        display: &mut D,
        report: &mut impl FnMut(Report<S::Error>),
    ) -> Result<(), D::Error> {
        let point = match (poll.pressed, poll.reading) {
            (false, _) => None,
            (true, Some(raw)) => Some(self.calibration.to_screen(raw)),
            // Pressed but the reading is light or noisy: wait for a clean one.
            (true, None) => return Ok(()),
        };
        let update = match self.session.step(point, now_us) {
            Ok(update) => update,
            Err(e) => {
                report(Report::InferenceRefused(e));
                return Ok(());
            }
        };
        if let Some((digit, us)) = update.recognised {
            report(Report::Recognised { digit, us });
            if let Some(Answer::Unsure { first, second }) =
                self.session.screen().prediction.map(|p| p.answer())
            {
                report(Report::Unsure { first, second });
            }
        }
        ui::redraw(&self.session.screen(), &update, display)
    }

    /// The session (its screen, its layout).
    pub fn session(&self) -> &Session<SCRATCH> {
        &self.session
    }

    /// The calibration storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// The touch panel, for a board whose panel is fed from outside (the simulator's mouse).
    pub fn panel_mut(&mut self) -> &mut P {
        &mut self.panel
    }

    /// Whether the touch calibration is in progress.
    pub fn calibrating(&self) -> bool {
        self.calibrator.is_some()
    }
}
