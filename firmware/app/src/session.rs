//! The interaction, independent of the board: each poll of the touch panel goes to
//! [`Session::step`], which draws on the canvas, handles the clear button, and recognises the
//! drawing once the finger has been off the screen for [`SETTLE_MS`] (so a digit may take
//! several strokes, like a 4 or a crossed 7). Ink after an answer is shown starts the next
//! digit on a cleared canvas. The board then redraws what the returned
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
use runtime_nostd::InferError;

use crate::calibration::Source;
use crate::canvas::Canvas;
use crate::layout::Layout;
use crate::preprocess::{DIGIT_SIDE, to_mnist};
use crate::recognizer::{Prediction, Recognizer, RecognizerError};

/// How long the finger must stay off the screen before the drawing is recognised.
pub const SETTLE_MS: u64 = 400;
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

/// The state of the screen: the drawing, the last answer, and the finger; the model runs in
/// `SCRATCH` bytes.
pub struct Session<const SCRATCH: usize> {
    layout: Layout,
    canvas: Canvas,
    recognizer: Recognizer<SCRATCH>,
    digit: Option<[u8; DIGIT_SIDE * DIGIT_SIDE]>,
    prediction: Option<Prediction>,
    inference_us: Option<u32>,
    touching: bool,
    drawing: Drawing,
    /// The calibration notice and when it goes (microseconds).
    notice: Option<(Source, u64)>,
}

/// Where the drawing stands relative to recognition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawing {
    /// Nothing new since the last recognition (or clear).
    Recognised,
    /// The finger is drawing.
    InProgress,
    /// The finger lifted at this time (microseconds): recognise once it stays off long enough.
    LiftedAt(u64),
}

impl<const SCRATCH: usize> Session<SCRATCH> {
    /// A blank screen laid out by `layout`, recognising with `model` (the binary's embedded
    /// model, parsed and checked here).
    pub fn new(model: &'static [u8], layout: Layout) -> Result<Self, RecognizerError> {
        Ok(Session {
            layout,
            canvas: Canvas::new(),
            recognizer: Recognizer::new(model)?,
            digit: None,
            prediction: None,
            inference_us: None,
            touching: false,
            drawing: Drawing::Recognised,
            notice: None,
        })
    }

    /// Shows which touch calibration the board runs with in the results panel, from `now_us`
    /// for [`NOTICE_MS`] or until the first touch; the caller draws the screen after this.
    pub fn show_notice(&mut self, source: Source, now_us: u64) {
        self.notice = Some((source, now_us.saturating_add(NOTICE_MS * 1000)));
    }

    /// The screen's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// What to draw.
    pub fn screen(&self) -> Screen<'_> {
        Screen {
            layout: &self.layout,
            canvas: &self.canvas,
            digit: self.digit.as_ref(),
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
        let mut update = self.follow(touch, now, now_us)?;
        update.results |= notice_over;
        Ok(update)
    }

    /// The drawing's part of [`step`](Self::step), at `now` (microseconds).
    fn follow(
        &mut self,
        touch: Option<Point>,
        now: u64,
        now_us: &mut impl FnMut() -> u64,
    ) -> Result<Update, InferError> {
        let update = match touch {
            Some(point) => self.press(point),
            None => {
                if core::mem::take(&mut self.touching) {
                    self.canvas.lift();
                    if self.drawing == Drawing::InProgress {
                        self.drawing = Drawing::LiftedAt(now);
                    }
                }
                match self.drawing {
                    Drawing::LiftedAt(t) if now.saturating_sub(t) >= SETTLE_MS * 1000 => {
                        self.drawing = Drawing::Recognised;
                        return self.recognise(now_us);
                    }
                    _ => Update::default(),
                }
            }
        };
        Ok(update)
    }

    fn press(&mut self, point: Point) -> Update {
        let first_contact = !core::mem::replace(&mut self.touching, true);
        if self.layout.is_clear(point) {
            return if first_contact {
                self.clear()
            } else {
                Update::default()
            };
        }
        match self.layout.canvas_point(point) {
            Some((x, y)) => {
                // Ink after a shown answer is the next digit: without this, it would merge
                // with the last one unless CLEAR were tapped in between.
                let fresh = if self.drawing == Drawing::Recognised && self.prediction.is_some() {
                    self.clear()
                } else {
                    Update::default()
                };
                self.drawing = Drawing::InProgress;
                let touched = self.canvas.touch(x, y);
                // A clear redraws the whole canvas, the new ink included.
                Update {
                    canvas: Some(fresh.canvas.unwrap_or(touched)),
                    ..fresh
                }
            }
            None => {
                self.canvas.lift();
                Update::default()
            }
        }
    }

    fn clear(&mut self) -> Update {
        self.canvas.clear();
        self.digit = None;
        self.prediction = None;
        self.inference_us = None;
        self.drawing = Drawing::Recognised;
        Update {
            canvas: Some(Canvas::area()),
            results: true,
            recognised: None,
        }
    }

    fn recognise(&mut self, now_us: &mut impl FnMut() -> u64) -> Result<Update, InferError> {
        let Some(digit) = to_mnist(self.canvas.pixels(), crate::canvas::SIDE) else {
            return Ok(Update::default());
        };
        let start = now_us();
        let prediction = self.recognizer.classify(&digit)?;
        let us = u32::try_from(now_us().saturating_sub(start)).unwrap_or(u32::MAX);
        self.digit = Some(digit);
        self.prediction = Some(prediction);
        self.inference_us = Some(us);
        Ok(Update {
            canvas: None,
            results: true,
            recognised: Some((prediction.digit, us)),
        })
    }
}
