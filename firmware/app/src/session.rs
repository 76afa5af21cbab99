//! The interaction, independent of the board: each poll of the touch panel goes to
//! [`Session::step`], whose [`Sketch`] draws on the canvas, handles the clear button, and
//! settles the drawing into a digit once the finger has been off the screen for [`SETTLE_MS`]
//! (so a digit may take several strokes, like a 4 or a crossed 7); the session recognises each
//! digit the sketch settles on. Ink after an answer is shown starts the next digit on a cleared
//! canvas. The board then redraws what the returned
//! [`Update`] names. At power-up the results panel can say which touch calibration the board
//! runs with ([`Session::show_notice`]) until the first touch or for [`NOTICE_MS`].
//!
//! ```no_run
//! use app::layout::Layout;
//! use app::session::Session;
//! use embedded_graphics::prelude::{Point, Size};
//!
//! # let model: &'static [u8] = &[];
//! let layout = Layout::for_screen(Size::new(320, 240)).unwrap();
//! let mut session = Session::<32_768>::new(model, layout).unwrap();
//! let mut clock = 0u64;
//! let mut now_us = || { clock += 1_000; clock };
//! let update = session.step(Some(Point::new(90, 100)), &mut now_us).unwrap();
//! assert!(update.canvas.is_some());
//! ```

use embedded_graphics::prelude::Point;
use embedded_graphics::primitives::Rectangle;
use runtime_nostd::{InferError, Parallel};

use crate::calibration::Source;
use crate::canvas::Canvas;
use crate::layout::Layout;
use crate::preprocess::DIGIT_SIDE;
use crate::recognizer::{Prediction, Recognizer, RecognizerError};
#[cfg(doc)]
use crate::sketch::SETTLE_MS;
use crate::sketch::Sketch;

/// How often the boards poll the touch panel, in milliseconds: often enough for smooth strokes
/// from a quick finger.
pub const POLL_MS: u64 = 10;

/// How long the first screen says which touch calibration the board runs with (or until the
/// first touch): long enough to read two short lines.
pub const NOTICE_MS: u64 = 5000;

/// What a step changed on the screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Update {
    /// The canvas area to redraw, in canvas coordinates.
    pub canvas: Option<Rectangle>,
    /// Whether the results panel changed.
    pub results: bool,
    /// The recognition this step ran: its answer and the inference time in microseconds.
    pub recognised: Option<(u8, u32)>,
}

/// What the screen shows.
pub struct Screen<'a> {
    /// Where things go.
    pub layout: &'a Layout,
    /// The drawing.
    pub canvas: &'a Canvas,
    /// The preprocessed digit the model classified, if any.
    pub digit: Option<&'a [u8; DIGIT_SIDE * DIGIT_SIDE]>,
    /// The model's answer, if any.
    pub prediction: Option<Prediction>,
    /// How long inference took, in microseconds.
    pub inference_us: Option<u32>,
    /// Which touch calibration the board runs with, said in the results panel at power-up.
    pub notice: Option<Source>,
}

/// The state of the screen: the drawing and the finger (its [`Sketch`]), and the last answer;
/// the model runs in `SCRATCH` bytes.
pub struct Session<const SCRATCH: usize> {
    sketch: Sketch,
    recognizer: Recognizer<SCRATCH>,
    prediction: Option<Prediction>,
    inference_us: Option<u32>,
    /// The calibration notice and when it goes (microseconds).
    notice: Option<(Source, u64)>,
}

impl<const SCRATCH: usize> Session<SCRATCH> {
    /// A blank screen laid out by `layout`, recognising with `model` (the binary's embedded
    /// model, parsed and checked here).
    pub fn new(model: &'static [u8], layout: Layout) -> Result<Self, RecognizerError> {
        Ok(Session {
            sketch: Sketch::new(layout),
            recognizer: Recognizer::new(model)?,
            prediction: None,
            inference_us: None,
            notice: None,
        })
    }

    /// Splits each convolution with a second core from now on
    /// ([`Recognizer::use_second_core`]).
    pub fn use_second_core(
        &mut self,
        scratch: &'static mut [u8],
        parallel: &'static mut dyn Parallel,
    ) -> Result<(), RecognizerError> {
        self.recognizer.use_second_core(scratch, parallel)
    }

    /// Shows which touch calibration the board runs with in the results panel, from `now_us`
    /// for [`NOTICE_MS`] or until the first touch; the caller draws the screen after this.
    pub fn show_notice(&mut self, source: Source, now_us: u64) {
        self.notice = Some((source, now_us.saturating_add(NOTICE_MS * 1000)));
    }

    /// The screen's layout.
    pub fn layout(&self) -> &Layout {
        self.sketch.layout()
    }

    /// What to draw.
    pub fn screen(&self) -> Screen<'_> {
        Screen {
            layout: self.sketch.layout(),
            canvas: self.sketch.canvas(),
            // The digit shown is the one classified: none while its answer is missing.
            digit: self.prediction.and(self.sketch.digit()),
            prediction: self.prediction,
            inference_us: self.inference_us,
            notice: self.notice.map(|(source, _)| source),
        }
    }

    /// One poll of the touch panel: `touch` is where the finger is (screen coordinates), or
    /// `None` when nothing touches. `now_us` is a microsecond clock; it also times inference.
    pub fn step(
        &mut self,
        touch: Option<Point>,
        now_us: &mut impl FnMut() -> u64,
    ) -> Result<Update, InferError> {
        let now = now_us();
        let notice_over = self
            .notice
            .is_some_and(|(_, until)| touch.is_some() || now >= until);
        if notice_over {
            self.notice = None;
        }
        let sketched = self.sketch.follow(touch, now);
        let mut update = Update {
            canvas: sketched.canvas,
            results: sketched.cleared || notice_over,
            recognised: None,
        };
        if sketched.cleared {
            self.prediction = None;
            self.inference_us = None;
        }
        if let (true, Some(digit)) = (sketched.settled, self.sketch.digit()) {
            let start = now_us();
            let prediction = self.recognizer.classify(digit)?;
            let us = u32::try_from(now_us().saturating_sub(start)).unwrap_or(u32::MAX);
            self.prediction = Some(prediction);
            self.inference_us = Some(us);
            update.results = true;
            update.recognised = Some((prediction.digit, us));
        }
        Ok(update)
    }
}
