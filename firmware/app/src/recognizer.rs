//! The model the binary embeds, run on a preprocessed digit in scratch memory sized for it.

use core::fmt;

use runtime_nostd::format::Shape;
use runtime_nostd::{InferError, Model, Parallel, ParseError, Scratch};

use crate::preprocess::DIGIT_SIDE;

/// Classes a model must have: the ten digits the screen names.
pub const CLASSES: usize = 10;
/// The input a model must take: what preprocessing makes of a drawing, one grey 28x28 image.
pub const INPUT: Shape = Shape {
    channels: 1,
    height: DIGIT_SIDE,
    width: DIGIT_SIDE,
};

/// The least probability of the likeliest digit for which the screen names it; below, the
/// answer reads "?" with the two likeliest digits ([`Answer::Unsure`]). Chosen on the redrawn
/// test set (docs/redrawn.md, "Confidence"): of the thresholds 0.30, 0.35, ... 0.95, the one at
/// which the most wrong answers become "?" for the fewest right ones lost.
pub const CONFIDENCE_THRESHOLD: f32 = 0.55;

/// What the screen answers for a [`Prediction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The likeliest digit, at least [`CONFIDENCE_THRESHOLD`] probable.
    Digit(u8),
    /// No digit is [`CONFIDENCE_THRESHOLD`] probable: the two likeliest, best first.
    Unsure {
        /// The likeliest digit.
        first: u8,
        /// The next one.
        second: u8,
    },
}

/// What the recognizer saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The most probable digit.
    pub digit: u8,
    /// Softmax probabilities of the ten digits.
    pub probabilities: [f32; CLASSES],
}

impl Prediction {
    /// The three most probable digits with their probabilities, best first.
    pub fn top3(&self) -> [(u8, f32); 3] {
        let mut top = [(0u8, -1.0f32); 3];
        for (d, &p) in (0u8..).zip(&self.probabilities) {
            if let Some(slot) = top.iter().position(|&(_, q)| p > q) {
                top.copy_within(slot..2, slot + 1);
                if let Some(t) = top.get_mut(slot) {
                    *t = (d, p);
                }
            }
        }
        top
    }

    /// What the screen answers: the digit, or "?" with the top two when the likeliest is less
    /// than [`CONFIDENCE_THRESHOLD`] probable.
    pub fn answer(&self) -> Answer {
        self.answer_at(CONFIDENCE_THRESHOLD)
    }

    /// [`answer`](Self::answer) with another threshold: how the redrawn test set compares
    /// candidates.
    pub fn answer_at(&self, threshold: f32) -> Answer {
        let [(first, p), (second, _), _] = self.top3();
        if p >= threshold {
            Answer::Digit(first)
        } else {
            Answer::Unsure { first, second }
        }
    }
}

/// Why a model cannot run in a [`Recognizer`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecognizerError {
    /// The model file does not parse.
    Model(ParseError),
    /// The model has another class count than the ten digits.
    Classes {
        /// The model's.
        classes: usize,
    },
    /// The model takes another input than a 28x28 grey image.
    Input {
        /// The model's input shape.
        shape: Shape,
    },
    /// The model needs more scratch memory than the recognizer has: build it with the size the
    /// model's build step computed (`model-embed`).
    ScratchTooSmall {
        /// What the model needs.
        needed: usize,
        /// What the recognizer has.
        given: usize,
    },
    /// The second core's scratch memory is smaller than the model needs for its half of each
    /// convolution: build it with the size `model-embed` computed (`*_HELPER_SCRATCH_BYTES`).
    HelperScratchTooSmall {
        /// What the model needs.
        needed: usize,
        /// What the recognizer was given.
        given: usize,
    },
}

impl fmt::Display for RecognizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecognizerError::Model(e) => write!(f, "the model does not parse: {e}"),
            RecognizerError::Classes { classes } => write!(
                f,
                "the model has {classes} classes; the app names the {CLASSES} digits (train it on MNIST)"
            ),
            RecognizerError::Input { shape } => write!(
                f,
                "the model takes {}x{}x{} inputs; the app gives it {}x{}x{} (channels x rows x columns)",
                shape.channels,
                shape.height,
                shape.width,
                INPUT.channels,
                INPUT.height,
                INPUT.width
            ),
            RecognizerError::ScratchTooSmall { needed, given } => write!(
                f,
                "the model needs {needed} bytes of scratch, the recognizer has {given}"
            ),
            RecognizerError::HelperScratchTooSmall { needed, given } => write!(
                f,
                "the model needs {needed} bytes of scratch on the second core, it was given {given}"
            ),
        }
    }
}

impl core::error::Error for RecognizerError {}

/// Whether the app can run `model`: its input and class count are the app's. What a board's
/// build refuses (`model-embed`) and what [`Recognizer::new`] checks again.
pub fn check_model(model: &Model<'_>) -> Result<(), RecognizerError> {
    if model.input_shape() != INPUT {
        return Err(RecognizerError::Input {
            shape: model.input_shape(),
        });
    }
    if model.classes() != CLASSES {
        return Err(RecognizerError::Classes {
            classes: model.classes(),
        });
    }
    Ok(())
}

/// A parsed model and `SCRATCH` bytes of scratch memory for it; with a second core
/// ([`Recognizer::use_second_core`]), each convolution split between the two.
pub struct Recognizer<const SCRATCH: usize> {
    model: Model<'static>,
    scratch: Scratch<SCRATCH>,
    second_core: Option<SecondCore>,
}

/// The second core's part of each inference: its scratch, and what runs work there.
struct SecondCore {
    scratch: &'static mut [u8],
    parallel: &'static mut dyn Parallel,
}

impl<const SCRATCH: usize> Recognizer<SCRATCH> {
    /// Parses `model` (checking its CRC and every field) and checks that the app can run it
    /// ([`check_model`]) in `SCRATCH` bytes.
    pub fn new(model: &'static [u8]) -> Result<Self, RecognizerError> {
        let model = Model::parse(model).map_err(RecognizerError::Model)?;
        check_model(&model)?;
        let needed = model.scratch_bytes();
        if needed > SCRATCH {
            return Err(RecognizerError::ScratchTooSmall {
                needed,
                given: SCRATCH,
            });
        }
        Ok(Recognizer {
            model,
            scratch: Scratch::new(),
            second_core: None,
        })
    }

    /// From now on, each convolution split in two halves, the second run through `parallel`
    /// (a board's second core) with `scratch` (`Model::helper_scratch_bytes`, which the
    /// build's `*_HELPER_SCRATCH_BYTES` is): the same answers, bit for bit, sooner.
    pub fn use_second_core(
        &mut self,
        scratch: &'static mut [u8],
        parallel: &'static mut dyn Parallel,
    ) -> Result<(), RecognizerError> {
        let needed = self.model.helper_scratch_bytes();
        if scratch.len() < needed {
            return Err(RecognizerError::HelperScratchTooSmall {
                needed,
                given: scratch.len(),
            });
        }
        self.second_core = Some(SecondCore { scratch, parallel });
        Ok(())
    }

    /// Classifies a 28x28 MNIST-style digit.
    pub fn classify(
        &mut self,
        digit: &[u8; DIGIT_SIDE * DIGIT_SIDE],
    ) -> Result<Prediction, InferError> {
        let mut probabilities = [0.0f32; CLASSES];
        let scratch = self.scratch.as_mut_bytes();
        let class = match &mut self.second_core {
            Some(core) => self.model.infer_parallel(
                digit,
                scratch,
                core.scratch,
                &mut probabilities,
                core.parallel,
            )?,
            None => self.model.infer(digit, scratch, &mut probabilities)?,
        };
        Ok(Prediction {
            digit: class as u8,
            probabilities,
        })
    }
}
