//! A layer as the format describes it ([`Layer`]), the rules it must satisfy on its own
//! ([`Layer::check`], failing with a [`LayerFault`]), which the parser and the writer both apply,
//! and the parser of one layer record ([`parse_layer`]).

use super::codes::{Activation, LayerKind, Variant};
use super::error::{LayerFault, ParseError};
use super::header::{HEADER_LEN, Header};
use super::layer_record::{LAYER_RECORD_LEN, LayerView};
use super::section::{ByteLen, Payload, PayloadSection, SECTION_ALIGN, Section};
use super::tensor::{ConvGeometry, Quantization, SIGMOID_OUTPUT, Shape};

/// The largest activation (values per image) a layer may produce, which bounds scratch memory.
pub const MAX_ACTIVATION: usize = 1 << 20;

/// One layer. The parser yields `Layer<Section>` (payloads as byte ranges of the file, read in
/// place); the writer takes the same struct with the payload bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Layer<P = Section> {
    /// What the layer computes.
    pub kind: LayerKind,
    /// Its output non-linearity.
    pub activation: Activation,
    /// Kernel, stride and padding (conv), or [`ConvGeometry::NONE`].
    pub geometry: ConvGeometry,
    /// Input shape (HWC in memory).
    pub input: Shape,
    /// Output shape (HWC in memory); the file stores only its channels, the rest follows from
    /// the kind and geometry ([`Layer::output_shape`]).
    pub output: Shape,
    /// Weights, biases, requantisation table, sigmoid table.
    pub payload: Payload<P>,
    /// int8: quantisation of the layer's input.
    pub input_quant: Quantization,
    /// int8: quantisation of the layer's output.
    pub output_quant: Quantization,
}

impl<P: ByteLen> Layer<P> {
    /// The output shape the kind and geometry give for this input and `output.channels`.
    pub fn output_shape(&self) -> Result<Shape, LayerFault> {
        let channels = self.output.channels;
        if channels == 0 {
            return Err(LayerFault::NoOutputs);
        }
        let geometry_unused = self.geometry == ConvGeometry::NONE;
        match self.kind {
            LayerKind::Conv2d => {
                let side = |s| self.geometry.output_side(s);
                match (side(self.input.height), side(self.input.width)) {
                    (Some(height), Some(width)) => Ok(Shape {
                        channels,
                        height,
                        width,
                    }),
                    _ => Err(LayerFault::ConvGeometry),
                }
            }
            LayerKind::Dense if !geometry_unused => Err(LayerFault::GeometryOnNonConv),
            LayerKind::Dense if self.input.height != 1 || self.input.width != 1 => {
                Err(LayerFault::DenseInputNotVector)
            }
            LayerKind::Dense => Ok(Shape::vector(channels)),
            LayerKind::Flatten if !geometry_unused => Err(LayerFault::GeometryOnNonConv),
            LayerKind::Flatten if self.input.checked_len() != Some(channels) => {
                Err(LayerFault::FlattenChangesSize)
            }
            LayerKind::Flatten => Ok(Shape::vector(channels)),
        }
    }

    /// The payload sizes the format requires of this layer in `variant`, with checked
    /// arithmetic (a crafted record must not wrap them on a 32-bit target).
    pub fn payload_sizes(&self, variant: Variant) -> Result<Payload<usize>, LayerFault> {
        let outputs = self.output.channels;
        let per_output = match self.kind {
            LayerKind::Conv2d => self
                .geometry
                .kernel
                .checked_mul(self.geometry.kernel)
                .and_then(|taps| taps.checked_mul(self.input.channels)),
            LayerKind::Dense => Some(self.input.channels),
            LayerKind::Flatten => return Ok(Payload::default()),
        };
        let weights = per_output
            .and_then(|n| n.checked_mul(outputs))
            .and_then(|n| n.checked_mul(variant.weight_bytes()));
        let (Some(weights), Some(bias), Some(requant)) =
            (weights, outputs.checked_mul(4), outputs.checked_mul(8))
        else {
            return Err(LayerFault::SizeOverflow);
        };
        let lut = match self.activation {
            Activation::Sigmoid => 256,
            Activation::Identity | Activation::Relu => 0,
        };
        Ok(match variant {
            Variant::F32 => Payload {
                weights,
                bias,
                requant: 0,
                lut: 0,
            },
            Variant::Int8 => Payload {
                weights,
                bias,
                requant,
                lut,
            },
        })
    }

    /// Everything the format requires of one layer on its own: its output shape follows from
    /// its kind and geometry, activations stay within [`MAX_ACTIVATION`], every payload has the
    /// size the format gives it, and int8 quantisations are valid (a flatten keeps its input's,
    /// a sigmoid outputs [`SIGMOID_OUTPUT`]). The parser and the writer both apply it.
    pub fn check(&self, variant: Variant) -> Result<(), LayerFault> {
        let output = self.output_shape()?;
        if output != self.output {
            return Err(LayerFault::OutputShape { expected: output });
        }
        for shape in [self.input, self.output] {
            match shape.checked_len() {
                Some(values) if values <= MAX_ACTIVATION => {}
                _ => return Err(LayerFault::ActivationTooLarge),
            }
        }
        if self.kind == LayerKind::Flatten && self.activation != Activation::Identity {
            return Err(LayerFault::FlattenWithActivation);
        }
        let sizes = self.payload_sizes(variant)?;
        for section in PayloadSection::ALL {
            let (expected, found) = (*sizes.get(section), self.payload.get(section).byte_len());
            if expected != found {
                return Err(LayerFault::PayloadSize {
                    section,
                    expected,
                    found,
                });
            }
        }
        match variant {
            Variant::F32 => Ok(()),
            Variant::Int8 => self.check_int8_quantization(),
        }
    }

    fn check_int8_quantization(&self) -> Result<(), LayerFault> {
        if !(self.input_quant.is_valid() && self.output_quant.is_valid()) {
            return Err(LayerFault::Quantization);
        }
        match (self.kind, self.activation) {
            (LayerKind::Flatten, _) if !self.input_quant.same_bits(&self.output_quant) => {
                Err(LayerFault::FlattenRequantizes)
            }
            (LayerKind::Conv2d | LayerKind::Dense, Activation::Sigmoid)
                if !self.output_quant.same_bits(&SIGMOID_OUTPUT) =>
            {
                Err(LayerFault::SigmoidOutputQuantization)
            }
            (LayerKind::Flatten, _)
            | (LayerKind::Conv2d | LayerKind::Dense, Activation::Sigmoid)
            | (LayerKind::Conv2d | LayerKind::Dense, Activation::Identity | Activation::Relu) => {
                Ok(())
            }
        }
    }
}

/// Parses layer record `index` and checks it against the input shape it receives.
pub fn parse_layer(
    bytes: &[u8],
    header: &Header,
    index: usize,
    input: Shape,
) -> Result<Layer, ParseError> {
    let base = HEADER_LEN + index * LAYER_RECORD_LEN;
    let record = bytes.get(base..base + LAYER_RECORD_LEN).unwrap_or_default();
    let view = LayerView::new_checked(record).map_err(|_| ParseError::TooShort {
        len: bytes.len(),
        needed: base + LAYER_RECORD_LEN,
    })?;
    let bad = |fault| ParseError::BadLayer {
        layer: index,
        fault,
    };
    let kind = LayerKind::from_code(view.kind_code()).ok_or(ParseError::UnknownLayerKind {
        layer: index,
        kind: view.kind_code(),
    })?;
    let activation =
        Activation::from_code(view.activation_code()).ok_or(ParseError::UnknownActivation {
            layer: index,
            activation: view.activation_code(),
        })?;
    if view.reserved() != [0; 3] {
        return Err(bad(LayerFault::ReservedNotZero));
    }
    let declared = view.input();
    if declared != input {
        return Err(ParseError::ShapeMismatch {
            layer: index,
            expected: input,
            declared,
        });
    }
    let mut layer = Layer {
        kind,
        activation,
        geometry: view.geometry(),
        input: declared,
        output: Shape::vector(view.output_channels()),
        payload: view.payload(),
        input_quant: view.input_quant(),
        output_quant: view.output_quant(),
    };
    layer.output = layer.output_shape().map_err(bad)?;
    layer.check(header.variant).map_err(bad)?;
    for section in PayloadSection::ALL {
        let range = *layer.payload.get(section);
        range
            .check(bytes.len(), SECTION_ALIGN)
            .map_err(|fault| ParseError::BadSection {
                layer: index,
                section,
                offset: range.offset,
                len: range.len,
                fault,
            })?;
    }
    Ok(layer)
}
