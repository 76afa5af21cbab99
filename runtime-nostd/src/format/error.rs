//! Why a byte slice is not a valid model file ([`ParseError`], what the parser and the views'
//! checked constructors return) and which rule of the format a layer breaks ([`LayerFault`],
//! what [`Layer::check`](super::Layer::check) returns to the parser and the writer alike).

use core::fmt;

use super::section::{PayloadSection, Section, SectionFault};
use super::tensor::Shape;

/// Why a byte slice is not a valid model file.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
    UnsupportedVersion(u16),
    /// Neither f32 (1) nor int8 (2).
    UnknownVariant(u8),
    /// Zero layers, or more than [`MAX_LAYERS`](crate::format::MAX_LAYERS).
    BadLayerCount(usize),
    /// The header's length field disagrees with the slice.
    LengthMismatch {
        /// Length in the header.
        header: u32,
        /// Length of the slice.
        actual: usize,
    },
    /// The file length is not a multiple of
    /// [`SECTION_ALIGN`](crate::format::SECTION_ALIGN).
    LengthNotAligned {
        /// Length of the file.
        len: usize,
    },
    /// The payload was altered: its CRC-32 differs from the stored one.
    CrcMismatch {
        /// CRC in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// Empty input shape or no classes.
    BadInputShape,
    /// The metadata section lies outside the file or is not UTF-8.
    BadMetadata {
        /// Where the header puts it.
        section: Section,
        /// What is wrong with it.
        fault: SectionFault,
    },
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
    /// A layer's payload section lies outside the file or is misaligned.
    BadSection {
        /// Layer index.
        layer: usize,
        /// Which section.
        section: PayloadSection,
        /// Its offset.
        offset: usize,
        /// Its length.
        len: usize,
        /// What is wrong with it.
        fault: SectionFault,
    },
    /// A layer record breaks a rule of the format.
    BadLayer {
        /// Layer index.
        layer: usize,
        /// The rule.
        fault: LayerFault,
    },
    /// An int8 model's first layer does not take the format's input quantisation
    /// ([`INPUT_QUANTIZATION`](crate::format::INPUT_QUANTIZATION)).
    InputQuantization,
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

/// A rule of the format that a layer breaks; [`Layer::check`](crate::format::Layer::check)
/// finds them for the reader and the writer alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LayerFault {
    /// No output channels.
    NoOutputs,
    /// A convolution whose kernel, stride and padding give no output.
    ConvGeometry,
    /// A dense or flatten layer with a non-zero kernel, stride or padding.
    GeometryOnNonConv,
    /// A dense layer whose input is not a vector (it needs a flatten before it).
    DenseInputNotVector,
    /// A flatten whose output count differs from its input's.
    FlattenChangesSize,
    /// A flatten with an activation.
    FlattenWithActivation,
    /// The output shape disagrees with what the kind and geometry give.
    OutputShape {
        /// The shape they give.
        expected: Shape,
    },
    /// An input or output of more than [`MAX_ACTIVATION`](crate::format::MAX_ACTIVATION)
    /// values.
    ActivationTooLarge,
    /// Payload sizes do not fit a `usize`.
    SizeOverflow,
    /// A payload section of the wrong size.
    PayloadSize {
        /// Which section.
        section: PayloadSection,
        /// Bytes the format requires.
        expected: usize,
        /// Bytes there are.
        found: usize,
    },
    /// An int8 quantisation with a scale that is not finite and positive, or a zero point
    /// outside -128..=127.
    Quantization,
    /// An int8 flatten whose output quantisation differs from its input's.
    FlattenRequantizes,
    /// An int8 sigmoid layer whose output quantisation is not
    /// [`SIGMOID_OUTPUT`](crate::format::SIGMOID_OUTPUT).
    SigmoidOutputQuantization,
    /// Reserved bytes that are not zero.
    ReservedNotZero,
}

impl fmt::Display for LayerFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerFault::NoOutputs => f.write_str("it has no outputs"),
            LayerFault::ConvGeometry => {
                f.write_str("its kernel, stride and padding give no output for its input")
            }
            LayerFault::GeometryOnNonConv => {
                f.write_str("a dense or flatten layer has kernel, stride and padding, which must be 0")
            }
            LayerFault::DenseInputNotVector => {
                f.write_str("a dense layer's input must be a vector: put a flatten before it")
            }
            LayerFault::FlattenChangesSize => {
                f.write_str("a flatten must output exactly as many values as it takes")
            }
            LayerFault::FlattenWithActivation => f.write_str("a flatten applies no activation"),
            LayerFault::OutputShape { expected } => {
                write!(f, "its output shape must be {expected}")
            }
            LayerFault::ActivationTooLarge => {
                f.write_str("an input or output exceeds 2^20 values, the format's limit")
            }
            LayerFault::SizeOverflow => f.write_str("its payload sizes overflow"),
            LayerFault::PayloadSize {
                section,
                expected,
                found,
            } => write!(f, "its {section} are {found} bytes, the format requires {expected}"),
            LayerFault::Quantization => f.write_str(
                "a quantisation scale is not finite and positive, or a zero point is outside -128..=127",
            ),
            LayerFault::FlattenRequantizes => {
                f.write_str("an int8 flatten must keep its input quantisation")
            }
            LayerFault::SigmoidOutputQuantization => {
                f.write_str("an int8 sigmoid layer must output scale 1/256, zero point -128")
            }
            LayerFault::ReservedNotZero => f.write_str("its reserved bytes are not zero"),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooShort { len, needed } => {
                write!(f, "truncated: {len} bytes, the model needs at least {needed}")
            }
            ParseError::BadMagic => f.write_str("not a model file: it does not start with MNEF"),
            ParseError::UnsupportedVersion(v) => {
                write!(f, "format version {v}; this runtime reads version 1")
            }
            ParseError::UnknownVariant(code) => {
                write!(f, "unknown number format {code} (1 = f32, 2 = int8)")
            }
            ParseError::BadLayerCount(n) => write!(f, "{n} layers; a model has 1 to 16"),
            ParseError::LengthMismatch { header, actual } => write!(
                f,
                "the header says {header} bytes but there are {actual}: the file is truncated or has trailing bytes"
            ),
            ParseError::LengthNotAligned { len } => {
                write!(f, "{len} bytes is not a multiple of 16, as the format requires")
            }
            ParseError::CrcMismatch { stored, computed } => write!(
                f,
                "damaged: CRC-32 {computed:#010x} does not match the stored {stored:#010x}"
            ),
            ParseError::BadInputShape => f.write_str("the input shape is empty or there are no classes"),
            ParseError::BadMetadata { section, fault } => write!(
                f,
                "the metadata ({} bytes at {}) {fault}",
                section.len, section.offset
            ),
            ParseError::UnknownLayerKind { layer, kind } => {
                write!(f, "layer {layer}: unknown layer kind {kind}")
            }
            ParseError::UnknownActivation { layer, activation } => {
                write!(f, "layer {layer}: unknown activation {activation}")
            }
            ParseError::ShapeMismatch {
                layer,
                expected,
                declared,
            } => write!(
                f,
                "layer {layer}: declares input {declared}, but receives {expected}"
            ),
            ParseError::BadSection {
                layer,
                section,
                offset,
                len,
                fault,
            } => write!(f, "layer {layer}: its {section} ({len} bytes at {offset}) {fault}"),
            ParseError::BadLayer { layer, fault } => write!(f, "layer {layer}: {fault}"),
            ParseError::InputQuantization => f.write_str(
                "the first layer's input quantisation is not the format's (scale 1/256, zero point -128)",
            ),
            ParseError::QuantizationMismatch { layer } => write!(
                f,
                "layer {layer}: its input quantisation differs from the previous layer's output"
            ),
            ParseError::BadOutput { values, classes } => write!(
                f,
                "the last layer outputs {values} values for {classes} classes"
            ),
        }
    }
}

impl core::error::Error for ParseError {}
impl core::error::Error for LayerFault {}
