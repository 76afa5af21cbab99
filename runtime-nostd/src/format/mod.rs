//! The flat weight format, in the manner of smoltcp's `wire` modules: one file per record, each
//! with its field map ([`header::field`], [`layer_record::field`] name every byte range), the
//! zero-copy view whose getters the parser uses and whose setters the writer uses
//! ([`HeaderView`], [`LayerView`]) and its parser ([`parse_header`], [`parse_layer`]); the rules
//! a layer must satisfy ([`Layer::check`]), which the reader and the writer both apply; the
//! errors of a file, a layer and a section ([`ParseError`], [`LayerFault`], [`SectionFault`]);
//! and the one-byte code tables ([`Variant`], [`LayerKind`], [`Activation`]). `FORMAT.md` is
//! the prose version of these files; they change together.

mod bytes;
mod codes;
mod error;
pub mod header;
mod layer;
pub mod layer_record;
mod section;
mod tensor;

pub use bytes::Field;
pub use codes::{Activation, LayerKind, Variant};
pub use error::{LayerFault, ParseError};
pub use header::{
    CRC_START, HEADER_LEN, Header, HeaderView, MAGIC, MAX_LAYERS, VERSION, file_crc, parse_header,
};
pub use layer::{Layer, MAX_ACTIVATION, parse_layer};
pub use layer_record::{LAYER_RECORD_LEN, LayerView};
pub use section::{ByteLen, Payload, PayloadSection, SECTION_ALIGN, Section, SectionFault};
pub use tensor::{
    ConvGeometry, INPUT_QUANTIZATION, NO_QUANTIZATION, Quantization, SIGMOID_INPUT_ZERO_POINT,
    SIGMOID_OUTPUT, Shape,
};
