//! The drawing half of a [`Session`](crate::session::Session), without a model: each poll of
//! the touch panel goes to [`Sketch::follow`], which draws on the canvas, handles the clear
//! button, and once the finger has been off the screen for [`SETTLE_MS`] turns the drawing into
//! the 28x28 digit a model is given (so a digit may take several strokes, like a 4 or a crossed
//! 7). Ink after a settled digit starts the next one on a cleared canvas.
//!
//! A session recognises each digit a sketch settles on; the trainer's redrawn training digits
//! (crate `redraw`) are the digits a sketch settles on, with no model involved.

use embedded_graphics::prelude::Point;
use embedded_graphics::primitives::Rectangle;

use crate::canvas::Canvas;
use crate::layout::Layout;
use crate::preprocess::{DIGIT_SIDE, to_mnist};

/// How long the finger must stay off the screen before the drawing is recognised.
pub const SETTLE_MS: u64 = 400;

/// What a poll changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SketchUpdate {
    /// The canvas area to redraw, in canvas coordinates.
    pub canvas: Option<Rectangle>,
    /// The canvas was cleared (the clear button, or ink after a settled digit): the digit is
    /// gone.
    pub cleared: bool,
    /// The drawing settled into a new [`Sketch::digit`] at this poll.
    pub settled: bool,
}

/// The drawing, the digit it last settled into, and the finger.
pub struct Sketch {
    layout: Layout,
    canvas: Canvas,
    digit: Option<[u8; DIGIT_SIDE * DIGIT_SIDE]>,
    touching: bool,
    drawing: Drawing,
}

/// Where the drawing stands relative to its digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drawing {
    /// Nothing new since the last digit (or clear).
    Settled,
    /// The finger is drawing.
    InProgress,
    /// The finger lifted at this time (microseconds): settle once it stays off long enough.
    LiftedAt(u64),
}

impl Sketch {
    /// A blank canvas laid out by `layout`.
    pub fn new(layout: Layout) -> Self {
        Sketch {
            layout,
            canvas: Canvas::new(),
            digit: None,
            touching: false,
            drawing: Drawing::Settled,
        }
    }

    /// The screen's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The drawing.
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// The 28x28 digit (MNIST's preprocessing of the canvas) the drawing last settled into,
    /// until the canvas is cleared; `None` also when the drawing had no ink to centre.
    pub fn digit(&self) -> Option<&[u8; DIGIT_SIDE * DIGIT_SIDE]> {
        self.digit.as_ref()
    }

    /// One poll of the touch panel at `now` (microseconds): `touch` is where the finger is
    /// (screen coordinates), or `None` when nothing touches.
    pub fn follow(&mut self, touch: Option<Point>, now: u64) -> SketchUpdate {
        match touch {
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
                        self.drawing = Drawing::Settled;
                        self.digit = to_mnist(self.canvas.pixels(), crate::canvas::SIDE);
                        SketchUpdate {
                            settled: self.digit.is_some(),
                            ..SketchUpdate::default()
                        }
                    }
                    _ => SketchUpdate::default(),
                }
            }
        }
    }

    fn press(&mut self, point: Point) -> SketchUpdate {
        let first_contact = !core::mem::replace(&mut self.touching, true);
        if self.layout.is_clear(point) {
            return if first_contact {
                self.clear()
            } else {
                SketchUpdate::default()
            };
        }
        match self.layout.canvas_point(point) {
            Some((x, y)) => {
                // Ink after a settled digit is the next digit: without this, it would merge
                // with the last one unless CLEAR were tapped in between.
                let fresh = if self.drawing == Drawing::Settled && self.digit.is_some() {
                    self.clear()
                } else {
                    SketchUpdate::default()
                };
                self.drawing = Drawing::InProgress;
                let touched = self.canvas.touch(x, y);
                // A clear redraws the whole canvas, the new ink included.
                SketchUpdate {
                    canvas: Some(fresh.canvas.unwrap_or(touched)),
                    ..fresh
                }
            }
            None => {
                self.canvas.lift();
                SketchUpdate::default()
            }
        }
    }

    fn clear(&mut self) -> SketchUpdate {
        self.canvas.clear();
        self.digit = None;
        self.drawing = Drawing::Settled;
        SketchUpdate {
            canvas: Some(Canvas::area()),
            cleared: true,
            settled: false,
        }
    }
}
