//! Everything that can go wrong, as precise enums: parsing a model file ([`ParseError`], with
//! the faults of one section, [`SectionFault`], and of one layer's record, [`LayerFault`], each
//! defined beside the record it describes in [`format`](crate::format)), and running a model
//! ([`InferError`]). Each implements `Display` (a sentence a user can act on),
//! `core::error::Error`, and `defmt::Format` with the `defmt` feature, so firmware logs them
//! as they are.

use core::fmt;

pub use crate::format::{LayerFault, ParseError, SectionFault};

/// Why an inference call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InferError {
    /// The image slice does not have one byte per input value.
    InputSize {
        /// Bytes given.
        given: usize,
        /// Bytes expected.
        expected: usize,
    },
    /// The scratch buffer is smaller than [`Model::scratch_bytes`](crate::Model::scratch_bytes).
    ScratchTooSmall {
        /// Bytes given.
        given: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// An f32 model's scratch buffer is not 4-byte aligned (use [`Scratch`](crate::Scratch)).
    ScratchMisaligned,
    /// The second core's scratch buffer is smaller than
    /// [`Model::helper_scratch_bytes`](crate::Model::helper_scratch_bytes).
    HelperScratchTooSmall {
        /// Bytes given.
        given: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The output slice does not have one value per class.
    OutputSize {
        /// Values given.
        given: usize,
        /// Classes.
        expected: usize,
    },
}

impl fmt::Display for InferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InferError::InputSize { given, expected } => {
                write!(f, "the image has {given} bytes; the model takes {expected}")
            }
            InferError::ScratchTooSmall { given, needed } => write!(
                f,
                "the scratch buffer has {given} bytes; the model needs {needed} (Model::scratch_bytes)"
            ),
            InferError::ScratchMisaligned => f.write_str(
                "an f32 model's scratch buffer must be 4-byte aligned: use runtime_nostd::Scratch",
            ),
            InferError::HelperScratchTooSmall { given, needed } => write!(
                f,
                "the second core's scratch buffer has {given} bytes; the model needs {needed} \
                 (Model::helper_scratch_bytes)"
            ),
            InferError::OutputSize { given, expected } => write!(
                f,
                "the output slice has {given} values; the model has {expected} classes"
            ),
        }
    }
}

impl core::error::Error for InferError {}
