//! The writer (feature `alloc`): builds a model file from layer descriptions. It uses the same
//! constants and record layout as the parser, so the two cannot drift.

use alloc::string::String;
use alloc::vec::Vec;

use crate::crc32::crc32;
use crate::format::{
    Activation, CRC_START, HEADER_LEN, LAYER_RECORD_LEN, LayerKind, MAGIC, MAX_LAYERS,
    Quantization, SECTION_ALIGN, Shape, VERSION, Variant,
};

/// One layer to write. Payloads are already in file layout (see FORMAT.md).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// What the layer computes.
    pub kind: LayerKind,
    /// Output non-linearity.
    pub activation: Activation,
    /// Square kernel side (conv).
    pub kernel: usize,
    /// Stride (conv).
    pub stride: usize,
    /// Symmetric zero padding (conv).
    pub pad: usize,
    /// Input shape.
    pub input: Shape,
    /// Output channels or features.
    pub output_channels: usize,
    /// Weights: conv OHWI, dense `[out][in]`; f32 little-endian or int8.
    pub weights: Vec<u8>,
    /// f32 or i32 little-endian, one per output.
    pub bias: Vec<u8>,
    /// int8: per output an i32 multiplier and an i32 shift.
    pub requant: Vec<u8>,
    /// int8 sigmoid: 256 output codes.
    pub lut: Vec<u8>,
    /// int8: input quantisation.
    pub input_quant: Quantization,
    /// int8: output quantisation.
    pub output_quant: Quantization,
}

/// Quantisation fields of f32 layers (ignored by the reader).
pub const NO_QUANTIZATION: Quantization = Quantization {
    scale: 1.0,
    zero_point: 0,
};

impl LayerSpec {
    /// A flatten layer for an activation of `input` shape.
    pub fn flatten(input: Shape, quant: Quantization) -> Self {
        LayerSpec {
            kind: LayerKind::Flatten,
            activation: Activation::Identity,
            kernel: 0,
            stride: 0,
            pad: 0,
            input,
            output_channels: input.len(),
            weights: Vec::new(),
            bias: Vec::new(),
            requant: Vec::new(),
            lut: Vec::new(),
            input_quant: quant,
            output_quant: quant,
        }
    }
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes of i32 values.
pub fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Why a model cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// No layer, or more than the format allows.
    LayerCount(usize),
    /// A dimension or size does not fit its field.
    TooLarge(&'static str),
}

fn align(buffer: &mut Vec<u8>) {
    while !buffer.len().is_multiple_of(SECTION_ALIGN) {
        buffer.push(0);
    }
}

fn u16_field(value: usize, what: &'static str) -> Result<[u8; 2], WriteError> {
    u16::try_from(value)
        .map(u16::to_le_bytes)
        .map_err(|_| WriteError::TooLarge(what))
}

fn u32_field(value: usize, what: &'static str) -> Result<[u8; 4], WriteError> {
    u32::try_from(value)
        .map(u32::to_le_bytes)
        .map_err(|_| WriteError::TooLarge(what))
}

fn u8_field(value: usize, what: &'static str) -> Result<u8, WriteError> {
    u8::try_from(value).map_err(|_| WriteError::TooLarge(what))
}

/// Appends `payload` at the next aligned offset and returns (offset, length) bytes for a record.
fn append_section(file: &mut Vec<u8>, payload: &[u8]) -> Result<[u8; 8], WriteError> {
    let offset = if payload.is_empty() {
        0
    } else {
        align(file);
        file.len()
    };
    file.extend_from_slice(payload);
    let mut field = [0u8; 8];
    field[..4].copy_from_slice(&u32_field(offset, "file offset")?);
    field[4..].copy_from_slice(&u32_field(payload.len(), "section length")?);
    Ok(field)
}

fn record(file: &mut Vec<u8>, layer: &LayerSpec) -> Result<[u8; LAYER_RECORD_LEN], WriteError> {
    let mut r = [0u8; LAYER_RECORD_LEN];
    r[0] = layer.kind as u8;
    r[1] = layer.activation as u8;
    r[2] = u8_field(layer.kernel, "kernel")?;
    r[3] = u8_field(layer.stride, "stride")?;
    r[4] = u8_field(layer.pad, "pad")?;
    r[8..10].copy_from_slice(&u16_field(layer.input.channels, "input channels")?);
    r[10..12].copy_from_slice(&u16_field(layer.input.height, "input height")?);
    r[12..14].copy_from_slice(&u16_field(layer.input.width, "input width")?);
    r[14..16].copy_from_slice(&u16_field(layer.output_channels, "output channels")?);
    r[16..24].copy_from_slice(&append_section(file, &layer.weights)?);
    r[24..32].copy_from_slice(&append_section(file, &layer.bias)?);
    r[32..40].copy_from_slice(&append_section(file, &layer.requant)?);
    r[40..44].copy_from_slice(&layer.input_quant.scale.to_le_bytes());
    r[44..48].copy_from_slice(&layer.input_quant.zero_point.to_le_bytes());
    r[48..52].copy_from_slice(&layer.output_quant.scale.to_le_bytes());
    r[52..56].copy_from_slice(&layer.output_quant.zero_point.to_le_bytes());
    r[56..64].copy_from_slice(&append_section(file, &layer.lut)?);
    Ok(r)
}

/// Copies `bytes` into `file` at `at` (the writer sized `file` for every call it makes).
fn put(file: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = file.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Serialises a model: header, layer table, metadata (`key=value` lines), then the payloads.
pub fn write_model(
    variant: Variant,
    input: Shape,
    classes: usize,
    metadata: &[(&str, String)],
    layers: &[LayerSpec],
) -> Result<Vec<u8>, WriteError> {
    if layers.is_empty() || layers.len() > MAX_LAYERS {
        return Err(WriteError::LayerCount(layers.len()));
    }
    let table_end = HEADER_LEN + layers.len() * LAYER_RECORD_LEN;
    let mut file = alloc::vec![0u8; table_end];
    let text: String = metadata
        .iter()
        .map(|(k, v)| alloc::format!("{k}={v}\n"))
        .collect();
    let metadata_field = append_section(&mut file, text.as_bytes())?;
    for (i, layer) in layers.iter().enumerate() {
        let r = record(&mut file, layer)?;
        let at = HEADER_LEN + i * LAYER_RECORD_LEN;
        put(&mut file, at, &r);
    }
    align(&mut file);
    let len = file.len();
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4..6].copy_from_slice(&VERSION.to_le_bytes());
    header[6] = variant as u8;
    header[7] = u8_field(layers.len(), "layer count")?;
    header[8..12].copy_from_slice(&u32_field(len, "file length")?);
    header[16..18].copy_from_slice(&u16_field(input.channels, "input channels")?);
    header[18..20].copy_from_slice(&u16_field(input.height, "input height")?);
    header[20..22].copy_from_slice(&u16_field(input.width, "input width")?);
    header[22..24].copy_from_slice(&u16_field(classes, "classes")?);
    header[24..32].copy_from_slice(&metadata_field);
    put(&mut file, 0, &header);
    let crc = crc32(file.get(CRC_START..).unwrap_or_default());
    put(&mut file, 12, &crc.to_le_bytes());
    Ok(file)
}
