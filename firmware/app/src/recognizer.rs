//! The int8 cnn-bn model, embedded in the binary, run on a preprocessed digit.

use runtime_nostd::shipped::CNN_BN_I8_SCRATCH_BYTES;
use runtime_nostd::{InferError, Model, ParseError, Scratch};

/// The model file the firmware ships.
macro_rules! model_file {
    () => {
        include_bytes!("../../../models/cnn-bn.i8.mnef")
    };
}

/// The model the firmware ships: `models/cnn-bn.i8.mnef`.
pub static MODEL: &[u8] = model_file!();
/// Its size in bytes, for a copy in RAM sized at compile time.
pub const MODEL_BYTES: usize = model_file!().len();

/// What the recognizer saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// The most probable digit.
    pub digit: u8,
    /// Softmax probabilities of the ten digits.
    pub probabilities: [f32; 10],
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
}

/// The parsed model and its scratch memory (about 26 KB, sized by the shipped-model constant).
pub struct Recognizer {
    model: Model<'static>,
    scratch: Scratch<CNN_BN_I8_SCRATCH_BYTES>,
}

impl Recognizer {
    /// Parses the embedded model (checking its CRC and every field).
    pub fn new() -> Result<Self, ParseError> {
        Self::with_model(MODEL)
    }

    /// Parses `model` (checking its CRC and every field): the embedded model's bytes wherever
    /// they were copied.
    pub fn with_model(model: &'static [u8]) -> Result<Self, ParseError> {
        Ok(Recognizer {
            model: Model::parse(model)?,
            scratch: Scratch::new(),
        })
    }

    /// Classifies a 28x28 MNIST-style digit.
    pub fn classify(&mut self, digit: &[u8; 784]) -> Result<Prediction, InferError> {
        let mut probabilities = [0.0f32; 10];
        let class = self
            .model
            .infer(digit, self.scratch.as_mut_bytes(), &mut probabilities)?;
        Ok(Prediction {
            digit: class as u8,
            probabilities,
        })
    }
}
