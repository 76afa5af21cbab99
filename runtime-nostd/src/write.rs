//! The writer (feature `alloc`): builds a model file from layers. It sets the fields through
//! the same views the parser reads them with ([`HeaderView`], [`LayerView`]) and checks every
//! layer with the parser's own rules ([`Layer::check`]) before writing, so a wrong payload is
//! an error here, not a surprise at parse.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{LayerFault, ParseError};
use crate::format::{
    Activation, ConvGeometry, HEADER_LEN, HeaderView, LAYER_RECORD_LEN, Layer, LayerKind,
    LayerView, MAGIC, MAX_LAYERS, PayloadSection, Quantization, SECTION_ALIGN, Shape, VERSION,
    Variant, file_crc,
};

/// A layer to write: the parser's [`Layer`] with its payload bytes (already in file layout,
/// see FORMAT.md) in place of byte ranges.
pub type LayerSpec = Layer<Vec<u8>>;

impl LayerSpec {
    /// A flatten layer for an activation of `input` shape.
    pub fn flatten(input: Shape, quant: Quantization) -> Self {
        Layer {
            kind: LayerKind::Flatten,
            activation: Activation::Identity,
            geometry: ConvGeometry::NONE,
            input,
            output: Shape::vector(input.len()),
            payload: Default::default(),
            input_quant: quant,
            output_quant: quant,
        }
    }
}

impl crate::format::ByteLen for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
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
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// No layer, or more than the format allows.
    LayerCount(usize),
    /// A value does not fit its field.
    TooLarge {
        /// The field.
        field: &'static str,
        /// The value.
        value: usize,
    },
    /// A layer breaks a rule of the format.
    Layer {
        /// Layer index.
        layer: usize,
        /// The rule.
        fault: LayerFault,
    },
    /// The layers do not chain into a model the parser accepts (shapes or quantisations that
    /// do not follow from one layer to the next, or a last layer without one value per class).
    Model(ParseError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::LayerCount(n) => write!(f, "{n} layers; a model has 1 to 16"),
            WriteError::TooLarge { field, value } => {
                write!(f, "{value} does not fit the {field} field")
            }
            WriteError::Layer { layer, fault } => write!(f, "layer {layer}: {fault}"),
            WriteError::Model(e) => write!(f, "the model would not parse: {e}"),
        }
    }
}

impl core::error::Error for WriteError {}

fn fit<T: TryFrom<usize>>(value: usize, field: &'static str) -> Result<T, WriteError> {
    T::try_from(value).map_err(|_| WriteError::TooLarge { field, value })
}

fn align(buffer: &mut Vec<u8>) {
    buffer.resize(buffer.len().next_multiple_of(SECTION_ALIGN), 0);
}

/// Appends `payload` at the next aligned offset; returns its (offset, length) for a record.
fn append_section(file: &mut Vec<u8>, payload: &[u8]) -> Result<(u32, u32), WriteError> {
    let offset = if payload.is_empty() {
        0
    } else {
        align(file);
        file.len()
    };
    file.extend_from_slice(payload);
    Ok((
        fit(offset, "section offset")?,
        fit(payload.len(), "section length")?,
    ))
}

fn record(file: &mut Vec<u8>, layer: &LayerSpec) -> Result<[u8; LAYER_RECORD_LEN], WriteError> {
    let mut view = LayerView::new_unchecked([0u8; LAYER_RECORD_LEN]);
    view.set_kind(layer.kind);
    view.set_activation(layer.activation);
    let g = layer.geometry;
    view.set_geometry(
        fit(g.kernel, "kernel")?,
        fit(g.stride, "stride")?,
        fit(g.pad, "pad")?,
    );
    view.set_input(
        fit(layer.input.channels, "input channels")?,
        fit(layer.input.height, "input height")?,
        fit(layer.input.width, "input width")?,
    );
    view.set_output_channels(fit(layer.output.channels, "output channels")?);
    for section in PayloadSection::ALL {
        let (offset, len) = append_section(file, layer.payload.get(section))?;
        view.set_section(section, offset, len);
    }
    view.set_input_quant(layer.input_quant);
    view.set_output_quant(layer.output_quant);
    Ok(view.into_inner())
}

/// Serialises a model: header, layer table, metadata (`key=value` lines), then the payloads.
/// Every layer is checked first, and the result is parsed before it is returned.
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
    for (index, layer) in layers.iter().enumerate() {
        layer.check(variant).map_err(|fault| WriteError::Layer {
            layer: index,
            fault,
        })?;
    }
    let table_end = HEADER_LEN + layers.len() * LAYER_RECORD_LEN;
    let mut file = alloc::vec![0u8; table_end];
    let text: String = metadata
        .iter()
        .map(|(k, v)| alloc::format!("{k}={v}\n"))
        .collect();
    let (metadata_offset, metadata_len) = append_section(&mut file, text.as_bytes())?;
    for (i, layer) in layers.iter().enumerate() {
        let bytes = record(&mut file, layer)?;
        let at = HEADER_LEN + i * LAYER_RECORD_LEN;
        if let Some(slot) = file.get_mut(at..at + LAYER_RECORD_LEN) {
            slot.copy_from_slice(&bytes);
        }
    }
    align(&mut file);
    let file_len = fit(file.len(), "file length")?;
    let mut header = HeaderView::new_unchecked(file.as_mut_slice());
    header.set_magic(MAGIC);
    header.set_version(VERSION);
    header.set_variant(variant);
    header.set_layer_count(fit(layers.len(), "layer count")?);
    header.set_file_len(file_len);
    header.set_input(
        fit(input.channels, "input channels")?,
        fit(input.height, "input height")?,
        fit(input.width, "input width")?,
    );
    header.set_classes(fit(classes, "classes")?);
    header.set_metadata(metadata_offset, metadata_len);
    let crc = file_crc(&file);
    HeaderView::new_unchecked(file.as_mut_slice()).set_crc(crc);
    crate::Model::parse(&file).map_err(WriteError::Model)?;
    Ok(file)
}
