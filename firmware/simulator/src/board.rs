//! The simulated board: the app's controller with the mouse (or a replayed finger) as its touch
//! panel and a flash that holds what `--notice` says, drawing on an SDL2-backed screen of the
//! board's size, on a clock that replays can skip forward.

use std::time::{Duration, Instant};

use app::calibration::Source;
use app::controller::{CalibrationStorage, Controller, Report};
use app::layout::Layout;
use app::pointer::Pointer;
use app::session::{POLL_MS, Session};
use app::touch::Calibration;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics_simulator::SimulatorDisplay;

/// The board's screen: the smallest the layout fits, 320x240 (the Pico-ResTouch-LCD-2.8's).
pub const SCREEN: Size = Layout::MIN_SCREEN;

/// The models this binary embeds and the scratch they need (build.rs).
pub mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

/// A microsecond clock: real time (so inference is timed for real) plus the time that replays
/// skip over instead of waiting.
pub struct Clock {
    start: Instant,
    pub skipped: Duration,
}

impl Clock {
    fn new() -> Self {
        Clock {
            start: Instant::now(),
            skipped: Duration::ZERO,
        }
    }

    pub fn now_us(&self) -> u64 {
        (self.start.elapsed() + self.skipped).as_micros() as u64
    }
}

/// The simulated board's flash: what power-up finds in it, as `--notice` says; it keeps no new
/// calibration.
#[derive(Debug)]
pub struct Flash {
    finds: Source,
}

/// Why the simulated flash gives or keeps no calibration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashError {
    /// `--notice unreadable`.
    Unreadable,
    /// A calibration in the window.
    NotKept,
}

impl std::fmt::Display for FlashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FlashError::Unreadable => "the simulated record is unreadable",
            FlashError::NotKept => "the simulator keeps no calibration",
        })
    }
}

impl CalibrationStorage for Flash {
    type Error = FlashError;

    fn load(&mut self) -> Result<Option<Calibration>, FlashError> {
        match self.finds {
            Source::Stored => Ok(Some(Calibration::IDENTITY)),
            Source::Default => Ok(None),
            Source::DefaultStoredUnreadable => Err(FlashError::Unreadable),
        }
    }

    fn save(&mut self, _: &Calibration) -> Result<(), FlashError> {
        Err(FlashError::NotKept)
    }

    fn flash_offset(&self) -> u32 {
        0
    }
}

/// The board's app (the same controller as the firmware's) and the screen it draws on.
pub struct Simulator {
    pub controller: Controller<Pointer, Flash, { models::MODEL_SCRATCH_BYTES }>,
    pub display: SimulatorDisplay<Rgb565>,
    pub clock: Clock,
}

impl Simulator {
    /// Power-up with `flash` holding what `finds` says, and a finger on the panel or not.
    pub fn new(finds: Source, finger_on_panel: bool) -> Result<Self, String> {
        let layout = Layout::for_screen(SCREEN).ok_or("the layout does not fit the screen")?;
        let session = Session::new(models::MODEL, layout)
            .map_err(|e| format!("the embedded model cannot run: {e}"))?;
        let clock = Clock::new();
        let pointer = Pointer {
            at: finger_on_panel.then_some(layout.canvas_origin),
        };
        let controller = Controller::start(
            pointer,
            Flash { finds },
            session,
            Calibration::IDENTITY,
            clock.now_us(),
            &mut |_| {},
        );
        let mut display = SimulatorDisplay::new(SCREEN);
        let _ = controller.draw(&mut display);
        Ok(Simulator {
            controller,
            display,
            clock,
        })
    }

    /// The screen's layout.
    pub fn layout(&self) -> Layout {
        *self.controller.session().layout()
    }

    /// One poll of the "touch panel", `touch` where the finger is; redraws what changed and
    /// returns what the app reported.
    pub fn step(&mut self, touch: Option<Point>) -> Result<Vec<Report<FlashError>>, String> {
        self.controller.panel_mut().at = touch;
        let clock = &self.clock;
        let mut reports = Vec::new();
        self.controller
            .poll(&mut || clock.now_us(), &mut self.display, &mut |report| {
                reports.push(report)
            });
        match reports
            .iter()
            .find(|r| matches!(r, Report::InferenceRefused(_)))
        {
            Some(refused) => Err(refused.to_string()),
            None => Ok(reports),
        }
    }

    /// Lets `ms` milliseconds of (skipped) time pass without a touch, one poll per [`POLL_MS`].
    pub fn idle(&mut self, ms: u64) -> Result<(), String> {
        for _ in 0..ms.div_ceil(POLL_MS) {
            self.clock.skipped += Duration::from_millis(POLL_MS);
            self.step(None)?;
        }
        Ok(())
    }

    /// Draws `digit` with the synthetic finger, one poll per [`POLL_MS`] of (skipped) time,
    /// until it settles; returns the recognition (digit, microseconds) it led to.
    pub fn replay(&mut self, digit: u8) -> Result<Option<(u8, u32)>, String> {
        let mut polls = Vec::new();
        app::synthetic::finger_polls(&self.layout(), digit, |touch| polls.push(touch));
        let mut recognised = None;
        for touch in polls {
            self.clock.skipped += Duration::from_millis(POLL_MS);
            for report in self.step(touch)? {
                if let Report::Recognised { digit, us } = report {
                    recognised = Some((digit, us));
                }
            }
        }
        Ok(recognised)
    }
}
