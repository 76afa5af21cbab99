//! The flat weight format: its constants, the header and layer records, and their validation.
//! `FORMAT.md` is the prose version of this file; the two change together.

use crate::crc32::crc32;
use crate::error::ParseError;

/// First four bytes of every file: "MNEF" (MNist Edge Flat).
pub const MAGIC: [u8; 4] = *b"MNEF";
/// The version this crate reads and writes.
pub const VERSION: u16 = 1;
/// Size of the fixed header.
pub const HEADER_LEN: usize = 32;
/// Size of one layer record.
pub const LAYER_RECORD_LEN: usize = 64;
/// Most layers a file may have.
pub const MAX_LAYERS: usize = 16;
/// Every section (metadata, weights, biases, requantisation tables, LUTs) starts at a multiple
/// of this, so a file placed at an aligned address can be read in place.
pub const SECTION_ALIGN: usize = 16;
/// Bytes covered by nothing but the CRC itself: magic, version, variant, count, length, CRC.
pub const CRC_START: usize = 16;
/// The largest activation (values per image) a layer may produce, which bounds scratch memory.
pub const MAX_ACTIVATION: usize = 1 << 20;

/// Number format of a model's weights and activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// f32 weights, biases and activations.
    F32 = 1,
    /// int8 weights (symmetric per output channel) and activations (asymmetric per tensor),
    /// int32 biases, fixed-point requantisation.
    Int8 = 2,
}

impl Variant {
    /// Bytes per activation value.
    pub const fn activation_bytes(self) -> usize {
        match self {
            Variant::F32 => 4,
            Variant::Int8 => 1,
        }
    }

    /// Bytes per weight.
    pub const fn weight_bytes(self) -> usize {
        self.activation_bytes()
    }
}

/// What a layer computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// 2-D convolution over CHW activations, square kernel, symmetric zero padding.
    Conv2d = 1,
    /// Fully connected, weights `[out][in]`.
    Dense = 2,
    /// CHW to a vector, channel-major: a no-op on the data, a change of shape.
    Flatten = 3,
}

/// The non-linearity a layer applies to its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// None.
    Identity = 0,
    /// max(0, x).
    Relu = 1,
    /// 1 / (1 + e^-x); int8 models apply it through a 256-entry lookup table.
    Sigmoid = 2,
}

/// An activation tensor's shape: channels x height x width (a vector is `n x 1 x 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Channels (or features).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl Shape {
    /// Values in the tensor.
    pub const fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True for a tensor with no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Affine quantisation of an int8 tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantization {
    /// Step between adjacent codes (> 0, finite).
    pub scale: f32,
    /// The code of real 0, in -128..=127.
    pub zero_point: i32,
}

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Section {
    /// Offset from the start of the file.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

/// One validated layer record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layer {
    /// What the layer computes.
    pub kind: LayerKind,
    /// Its output non-linearity.
    pub activation: Activation,
    /// Square kernel side (conv only).
    pub kernel: usize,
    /// Stride on both axes (conv only).
    pub stride: usize,
    /// Zero padding on every side (conv only).
    pub pad: usize,
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Weights: conv `[out][in][k][k]`, dense `[out][in]`.
    pub weights: Section,
    /// One bias per output channel (f32 or i32).
    pub bias: Section,
    /// int8: per output channel an i32 multiplier then an i32 shift.
    pub requant: Section,
    /// int8: quantisation of the layer's input.
    pub input_quant: Quantization,
    /// int8: quantisation of the layer's output.
    pub output_quant: Quantization,
    /// int8 sigmoid layers: 256 output codes indexed by pre-activation code + 128.
    pub lut: Section,
}

/// The parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Number format.
    pub variant: Variant,
    /// Layers in the table.
    pub layer_count: usize,
    /// Total file length.
    pub file_len: usize,
    /// The model's input shape.
    pub input: Shape,
    /// Number of output classes.
    pub classes: usize,
    /// UTF-8 `key=value` lines.
    pub metadata: Section,
}

/// Pre-activation quantisation of int8 sigmoid layers, fixed by the format: codes cover
/// [-8, 8) in steps of 1/16 (sigmoid is flat to 3e-4 beyond).
pub const SIGMOID_INPUT: Quantization = Quantization {
    scale: 1.0 / 16.0,
    zero_point: 0,
};
/// Output quantisation of int8 sigmoid layers, fixed by the format: (0, 1) in steps of 1/256.
pub const SIGMOID_OUTPUT: Quantization = Quantization {
    scale: 1.0 / 256.0,
    zero_point: -128,
};

/// Little-endian field reader over a byte slice that never panics.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'a>(pub(crate) &'a [u8]);

impl Fields<'_> {
    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.0.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    pub(crate) fn u8(&self, at: usize) -> Option<u8> {
        self.0.get(at).copied()
    }

    pub(crate) fn u16(&self, at: usize) -> Option<usize> {
        self.array(at).map(|b| usize::from(u16::from_le_bytes(b)))
    }

    pub(crate) fn u32(&self, at: usize) -> Option<usize> {
        self.array(at)
            .and_then(|b| usize::try_from(u32::from_le_bytes(b)).ok())
    }

    pub(crate) fn i32(&self, at: usize) -> Option<i32> {
        self.array(at).map(i32::from_le_bytes)
    }

    pub(crate) fn f32(&self, at: usize) -> Option<f32> {
        self.array(at).map(f32::from_le_bytes)
    }
}

fn variant(code: u8) -> Result<Variant, ParseError> {
    match code {
        1 => Ok(Variant::F32),
        2 => Ok(Variant::Int8),
        other => Err(ParseError::UnknownVariant(other)),
    }
}

fn layer_kind(index: usize, code: u8) -> Result<LayerKind, ParseError> {
    match code {
        1 => Ok(LayerKind::Conv2d),
        2 => Ok(LayerKind::Dense),
        3 => Ok(LayerKind::Flatten),
        kind => Err(ParseError::UnknownLayerKind { layer: index, kind }),
    }
}

fn activation(index: usize, code: u8) -> Result<Activation, ParseError> {
    match code {
        0 => Ok(Activation::Identity),
        1 => Ok(Activation::Relu),
        2 => Ok(Activation::Sigmoid),
        activation => Err(ParseError::UnknownActivation {
            layer: index,
            activation,
        }),
    }
}

/// Parses and checks the header, including the file length and the CRC.
pub fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    let f = Fields(bytes);
    if bytes.len() < HEADER_LEN {
        return Err(ParseError::TooShort {
            len: bytes.len(),
            needed: HEADER_LEN,
        });
    }
    if f.array::<4>(0) != Some(MAGIC) {
        return Err(ParseError::BadMagic);
    }
    let version = f.u16(4).ok_or(ParseError::TooShort {
        len: bytes.len(),
        needed: HEADER_LEN,
    })?;
    if version != usize::from(VERSION) {
        return Err(ParseError::UnsupportedVersion(version));
    }
    let short = ParseError::TooShort {
        len: bytes.len(),
        needed: HEADER_LEN,
    };
    let variant = variant(f.u8(6).ok_or(short)?)?;
    let layer_count = usize::from(f.u8(7).ok_or(short)?);
    if layer_count == 0 || layer_count > MAX_LAYERS {
        return Err(ParseError::BadLayerCount(layer_count));
    }
    let file_len = f.u32(8).ok_or(short)?;
    if file_len != bytes.len() {
        return Err(ParseError::LengthMismatch {
            header: file_len,
            actual: bytes.len(),
        });
    }
    let stored = f.u32(12).ok_or(short)?;
    let computed = crc32(bytes.get(CRC_START..).unwrap_or_default());
    if usize::try_from(computed).ok() != Some(stored) {
        return Err(ParseError::CrcMismatch { stored, computed });
    }
    let input = Shape {
        channels: f.u16(16).ok_or(short)?,
        height: f.u16(18).ok_or(short)?,
        width: f.u16(20).ok_or(short)?,
    };
    let classes = f.u16(22).ok_or(short)?;
    let metadata = Section {
        offset: f.u32(24).ok_or(short)?,
        len: f.u32(28).ok_or(short)?,
    };
    if input.is_empty() || classes == 0 {
        return Err(ParseError::BadInputShape);
    }
    check_section(bytes.len(), metadata, None, 1)?;
    let table_end = HEADER_LEN + layer_count * LAYER_RECORD_LEN;
    if table_end > bytes.len() {
        return Err(ParseError::TooShort {
            len: bytes.len(),
            needed: table_end,
        });
    }
    Ok(Header {
        variant,
        layer_count,
        file_len,
        input,
        classes,
        metadata,
    })
}

/// Checks a section lies inside the file, is aligned, and (if `expected` is given) has that
/// exact length. `layer` is `None` for the metadata.
fn check_section(
    file_len: usize,
    section: Section,
    layer: Option<usize>,
    align: usize,
) -> Result<(), ParseError> {
    let end = section.offset.checked_add(section.len);
    let misaligned = section.len > 0 && !section.offset.is_multiple_of(align);
    match end {
        Some(end) if end <= file_len && !misaligned => Ok(()),
        _ => Err(ParseError::BadSection {
            layer,
            offset: section.offset,
            len: section.len,
        }),
    }
}

/// Output side of a convolution, or `None` if the geometry is impossible.
pub const fn conv_output_side(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
) -> Option<usize> {
    let padded = input + 2 * pad;
    if kernel == 0 || stride == 0 || padded < kernel {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

fn quantization(f: &Fields<'_>, at: usize) -> Option<Quantization> {
    Some(Quantization {
        scale: f.f32(at)?,
        zero_point: f.i32(at + 4)?,
    })
}

fn valid_quantization(q: Quantization) -> bool {
    q.scale.is_finite() && q.scale > 0.0 && (-128..=127).contains(&q.zero_point)
}

/// Parses layer record `index` and checks it against the input shape it receives.
pub fn parse_layer(
    bytes: &[u8],
    header: &Header,
    index: usize,
    input: Shape,
) -> Result<Layer, ParseError> {
    let base = HEADER_LEN + index * LAYER_RECORD_LEN;
    let record = bytes
        .get(base..base + LAYER_RECORD_LEN)
        .ok_or(ParseError::TooShort {
            len: bytes.len(),
            needed: base + LAYER_RECORD_LEN,
        })?;
    let f = Fields(record);
    let truncated = ParseError::BadLayer {
        layer: index,
        reason: "record truncated",
    };
    let kind = layer_kind(index, f.u8(0).ok_or(truncated)?)?;
    let activation = activation(index, f.u8(1).ok_or(truncated)?)?;
    let (kernel, stride, pad) = (
        usize::from(f.u8(2).ok_or(truncated)?),
        usize::from(f.u8(3).ok_or(truncated)?),
        usize::from(f.u8(4).ok_or(truncated)?),
    );
    let declared_input = Shape {
        channels: f.u16(8).ok_or(truncated)?,
        height: f.u16(10).ok_or(truncated)?,
        width: f.u16(12).ok_or(truncated)?,
    };
    let out_channels = f.u16(14).ok_or(truncated)?;
    let section = |at: usize| -> Option<Section> {
        Some(Section {
            offset: f.u32(at)?,
            len: f.u32(at + 4)?,
        })
    };
    let layer = Layer {
        kind,
        activation,
        kernel,
        stride,
        pad,
        input: declared_input,
        output: Shape {
            channels: out_channels,
            height: 1,
            width: 1,
        },
        weights: section(16).ok_or(truncated)?,
        bias: section(24).ok_or(truncated)?,
        requant: section(32).ok_or(truncated)?,
        input_quant: quantization(&f, 40).ok_or(truncated)?,
        output_quant: quantization(&f, 48).ok_or(truncated)?,
        lut: section(56).ok_or(truncated)?,
    };
    if declared_input != input {
        return Err(ParseError::ShapeMismatch {
            layer: index,
            expected: input,
            declared: declared_input,
        });
    }
    let layer = with_output_shape(layer, index)?;
    check_payload(bytes.len(), header.variant, &layer, index)?;
    Ok(layer)
}

fn with_output_shape(mut layer: Layer, index: usize) -> Result<Layer, ParseError> {
    let bad = |reason| ParseError::BadLayer {
        layer: index,
        reason,
    };
    layer.output = match layer.kind {
        LayerKind::Conv2d => {
            let side = |s| conv_output_side(s, layer.kernel, layer.stride, layer.pad);
            match (side(layer.input.height), side(layer.input.width)) {
                (Some(height), Some(width)) if layer.output.channels > 0 => Shape {
                    channels: layer.output.channels,
                    height,
                    width,
                },
                _ => return Err(bad("impossible convolution geometry")),
            }
        }
        LayerKind::Dense => {
            if layer.input.height != 1 || layer.input.width != 1 {
                return Err(bad("dense input must be a vector: add a flatten layer"));
            }
            if layer.output.channels == 0 {
                return Err(bad("dense layer with no outputs"));
            }
            layer.output
        }
        LayerKind::Flatten => {
            if layer.output.channels != layer.input.len()
                || layer.activation != Activation::Identity
            {
                return Err(bad("flatten must keep every value and apply no activation"));
            }
            layer.output
        }
    };
    if layer.output.len() > MAX_ACTIVATION || layer.input.len() > MAX_ACTIVATION {
        return Err(bad("activation larger than the format allows"));
    }
    Ok(layer)
}

/// Expected payload sizes for a layer: (weights, bias, requant, lut) in bytes.
pub fn payload_sizes(variant: Variant, layer: &Layer) -> (usize, usize, usize, usize) {
    let outputs = layer.output.channels;
    let per_output = match layer.kind {
        LayerKind::Conv2d => layer.input.channels * layer.kernel * layer.kernel,
        LayerKind::Dense => layer.input.channels,
        LayerKind::Flatten => return (0, 0, 0, 0),
    };
    let weights = outputs * per_output * variant.weight_bytes();
    let bias = outputs * 4;
    match variant {
        Variant::F32 => (weights, bias, 0, 0),
        Variant::Int8 => {
            let lut = if layer.activation == Activation::Sigmoid {
                256
            } else {
                0
            };
            (weights, bias, outputs * 8, lut)
        }
    }
}

fn check_payload(
    file_len: usize,
    variant: Variant,
    layer: &Layer,
    index: usize,
) -> Result<(), ParseError> {
    let (weights, bias, requant, lut) = payload_sizes(variant, layer);
    let sections = [
        (layer.weights, weights),
        (layer.bias, bias),
        (layer.requant, requant),
        (layer.lut, lut),
    ];
    for (section, expected) in sections {
        if section.len != expected {
            return Err(ParseError::BadSection {
                layer: Some(index),
                offset: section.offset,
                len: section.len,
            });
        }
        check_section(file_len, section, Some(index), SECTION_ALIGN)?;
    }
    let passes_through = layer.input_quant == layer.output_quant;
    if variant == Variant::Int8
        && layer.kind == LayerKind::Flatten
        && !(passes_through && valid_quantization(layer.input_quant))
    {
        return Err(ParseError::BadLayer {
            layer: index,
            reason: "int8 flatten must keep its input quantisation",
        });
    }
    if variant == Variant::Int8 && layer.kind != LayerKind::Flatten {
        let quant_ok =
            valid_quantization(layer.input_quant) && valid_quantization(layer.output_quant);
        let sigmoid_ok =
            layer.activation != Activation::Sigmoid || layer.output_quant == SIGMOID_OUTPUT;
        if !quant_ok || !sigmoid_ok {
            return Err(ParseError::BadLayer {
                layer: index,
                reason: "invalid quantisation parameters",
            });
        }
    }
    Ok(())
}
