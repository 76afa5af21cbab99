//! Everything that can go wrong, as precise enums: parsing a model file and running it.

use crate::format::Shape;

/// Why a byte slice is not a valid model file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParseError {
    /// Fewer bytes than the structure at hand needs.
    TooShort {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
    /// The file does not start with `MNEF`.
    BadMagic,
    /// A format version this runtime does not read.
    UnsupportedVersion(usize),
    /// Neither f32 (1) nor int8 (2).
    UnknownVariant(u8),
    /// Zero layers, or more than [`MAX_LAYERS`](crate::format::MAX_LAYERS).
    BadLayerCount(usize),
    /// The header's length field disagrees with the slice.
    LengthMismatch {
        /// Length in the header.
        header: usize,
        /// Length of the slice.
        actual: usize,
    },
    /// The payload was altered: its CRC-32 differs from the stored one.
    CrcMismatch {
        /// CRC in the header.
        stored: usize,
        /// CRC of the bytes.
        computed: u32,
    },
    /// Empty input shape or no classes.
    BadInputShape,
    /// A layer kind code this runtime does not know.
    UnknownLayerKind {
        /// Layer index.
        layer: usize,
        /// The code found.
        kind: u8,
    },
    /// An activation code this runtime does not know.
    UnknownActivation {
        /// Layer index.
        layer: usize,
        /// The code found.
        activation: u8,
    },
    /// A layer's declared input shape is not what the previous layer produces.
    ShapeMismatch {
        /// Layer index.
        layer: usize,
        /// Shape the previous layer (or the model input) produces.
        expected: Shape,
        /// Shape the record declares.
        declared: Shape,
    },
    /// A section is out of the file, misaligned or of the wrong size (`layer` is `None` for the
    /// metadata section).
    BadSection {
        /// Layer index, if any.
        layer: Option<usize>,
        /// Section offset.
        offset: usize,
        /// Section length.
        len: usize,
    },
    /// A layer record is inconsistent.
    BadLayer {
        /// Layer index.
        layer: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An int8 layer's input quantisation differs from the previous layer's output.
    QuantizationMismatch {
        /// Layer index.
        layer: usize,
    },
    /// The last layer does not produce one value per class.
    BadOutput {
        /// Values the last layer produces.
        values: usize,
        /// Classes in the header.
        classes: usize,
    },
}

/// Why an inference call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The output slice does not have one value per class.
    OutputSize {
        /// Values given.
        given: usize,
        /// Classes.
        expected: usize,
    },
}
