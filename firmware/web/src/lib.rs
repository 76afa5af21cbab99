//! The board's app in a web page: the firmware's own [`Controller`] (the `app` crate's canvas,
//! preprocessing, session and UI) and the board's int8 model on runtime-nostd's kernels,
//! compiled to `wasm32-unknown-unknown`, drawing into a [`Frame`] that the page shows on a canvas.
//! A pointer (mouse, pen or finger) is the touch panel ([`Pointer`]): each pointer event is one
//! poll, and while nothing touches, the page polls every [`POLL_MS`](app::session::POLL_MS)
//! itself so that a drawing settles and the power-up notice ends on the board's schedule.
//!
//! The page talks to [`Page`] through the plain exports of [`exports`] (no bindings generator):
//! `site/main.js` is the other side.

pub mod exports;
pub mod frame;

use app::controller::{CalibrationStorage, Controller, Report};
use app::layout::Layout;
use app::pointer::Pointer;
use app::preprocess::DIGIT_SIDE;
use app::session::Session;
use app::touch::Calibration;
use embedded_graphics::prelude::Point;

pub use frame::Frame;

/// The model the page runs (the board's) and the scratch it needs (build.rs).
pub mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

/// The scratch the page's recognizer has: the board's model's.
pub const SCRATCH: usize = models::MODEL_SCRATCH_BYTES;

/// A browser has no flash: the page starts on the board's default calibration (a pointer's
/// readings are pixels) and keeps none.
#[derive(Debug, Default)]
pub struct NoFlash;

impl CalibrationStorage for NoFlash {
    type Error = &'static str;

    fn load(&mut self) -> Result<Option<Calibration>, Self::Error> {
        Ok(None)
    }

    fn save(&mut self, _: &Calibration) -> Result<(), Self::Error> {
        Err("a web page keeps no calibration")
    }

    fn flash_offset(&self) -> u32 {
        0
    }
}

/// The app on the page: the board's controller and the frame it draws.
pub struct Page {
    controller: Controller<Pointer, NoFlash, SCRATCH>,
    model: &'static [u8],
    frame: Frame,
    /// The last report of a refused inference (the page shows it under the screen).
    refused: Option<String>,
}

impl Page {
    /// Power-up at `now_us` with `model` (the embedded one, or one the visitor asked for):
    /// a model that fails its checks (its CRC, the app's input and class rules, the scratch
    /// size) is an error that says why.
    pub fn start(model: &'static [u8], now_us: u64) -> Result<Page, String> {
        let layout = Layout::for_screen(Layout::MIN_SCREEN)
            .ok_or("the layout does not fit the board's screen")?;
        let session =
            Session::new(model, layout).map_err(|e| format!("the model cannot run: {e}"))?;
        let controller = Controller::start(
            Pointer::default(),
            NoFlash,
            session,
            Calibration::IDENTITY,
            now_us,
            &mut |_| {},
        );
        let mut frame = Frame::new(Layout::MIN_SCREEN);
        let Ok(()) = controller.draw(&mut frame);
        Ok(Page {
            controller,
            model,
            frame,
            refused: None,
        })
    }

    /// One poll with the pointer at `touch` (screen pixels) or lifted; redraws what changed.
    /// Returns the digit recognised in this poll, if one was.
    pub fn poll(&mut self, touch: Option<Point>, now_us: &mut impl FnMut() -> u64) -> Option<u8> {
        self.controller.panel_mut().at = touch;
        let mut recognised = None;
        let refused = &mut self.refused;
        self.controller
            .poll(now_us, &mut self.frame, &mut |report| match report {
                Report::Recognised { digit, .. } => recognised = Some(digit),
                Report::InferenceRefused(e) => *refused = Some(e.to_string()),
                _ => {}
            });
        recognised
    }

    /// The model file it runs.
    pub fn model(&self) -> &'static [u8] {
        self.model
    }

    /// Whether the pointer touches now.
    pub fn touching(&mut self) -> bool {
        self.controller.panel_mut().at.is_some()
    }

    /// The screen.
    pub fn frame(&self) -> &Frame {
        &self.frame
    }

    /// The answer on the screen: the likeliest digit, its top 3 with probabilities, the
    /// inference time, and the 28x28 input the network saw.
    pub fn answer(&self) -> Option<Answer<'_>> {
        let screen = self.controller.session().screen();
        Some(Answer {
            top3: screen.prediction?.top3(),
            inference_us: screen.inference_us.unwrap_or(0),
            input: screen.digit?,
        })
    }

    /// Why the last inference was refused, if one was.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }
}

/// What the page shows beside the screen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer<'a> {
    /// The three likeliest digits, likeliest first, with their probabilities.
    pub top3: [(u8, f32); 3],
    /// How long the inference took in the browser, in microseconds.
    pub inference_us: u32,
    /// The preprocessed digit the model classified, row by row.
    pub input: &'a [u8; DIGIT_SIDE * DIGIT_SIDE],
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::session::POLL_MS;

    #[test]
    fn the_synthetic_digits_drawn_as_pointer_polls_are_recognised() {
        let mut clock = 0;
        let mut page = Page::start(models::MODEL, clock).unwrap();
        let layout = Layout::for_screen(Layout::MIN_SCREEN).unwrap();
        for digit in [7, 3] {
            let mut polls = Vec::new();
            app::synthetic::finger_polls(&layout, digit, |touch| polls.push(touch));
            let mut recognised = None;
            for touch in polls {
                clock += POLL_MS * 1000;
                recognised = recognised.or(page.poll(touch, &mut || clock));
            }
            assert_eq!(recognised, Some(digit));
            let answer = page.answer().unwrap();
            assert_eq!(answer.top3[0].0, digit);
            assert!(answer.input.iter().any(|&v| v > 0));
            let mut clear = Vec::new();
            app::synthetic::clear_polls(&layout, |touch| clear.push(touch));
            for touch in clear {
                clock += POLL_MS * 1000;
                page.poll(touch, &mut || clock);
            }
            assert_eq!(page.answer(), None, "CLEAR leaves no answer");
        }
        assert_eq!(page.refused(), None);
    }

    #[test]
    fn a_model_that_fails_its_crc_is_an_error_that_says_so() {
        let mut corrupt = models::MODEL.to_vec();
        let last = corrupt.len() - 1;
        corrupt[last] ^= 0x40;
        let error = Page::start(Box::leak(corrupt.into_boxed_slice()), 0)
            .err()
            .unwrap();
        assert!(error.contains("CRC"), "{error}");
    }
}
