//! The 32-byte header at the start of every file: its field map, the zero-copy view the parser
//! reads it with and the writer sets it through, its parser ([`parse_header`], into a
//! [`Header`]), and the file-wide values it carries (magic, version, layer limit, the CRC).

use crate::crc32::crc32;

use super::bytes::{
    Field, byte, read, read_section, read_u16, read_u32, record_view, write, write_section,
};
use super::codes::Variant;
use super::error::ParseError;
use super::layer_record::LAYER_RECORD_LEN;
use super::section::{SECTION_ALIGN, Section, SectionFault};
use super::tensor::Shape;

/// First four bytes of every file: "MNEF" (MNist Edge Flat).
pub const MAGIC: [u8; 4] = *b"MNEF";
/// The version this crate reads and writes.
pub const VERSION: u16 = 1;
/// Most layers a file may have.
pub const MAX_LAYERS: usize = 16;
/// Size of the header.
pub const HEADER_LEN: usize = field::LEN;
/// The CRC covers the file from here on; the bytes before it are checked field by field.
pub const CRC_START: usize = field::CRC.end;

/// The header, field by field (FORMAT.md, "Header").
pub mod field {
    use super::Field;

    /// `MNEF`.
    pub const MAGIC: Field = 0..4;
    /// u16 format version.
    pub const VERSION: Field = 4..6;
    /// u8 [`Variant`](super::Variant) code.
    pub const VARIANT: usize = 6;
    /// u8 number of layer records.
    pub const LAYER_COUNT: usize = 7;
    /// u32 length of the whole file.
    pub const FILE_LEN: Field = 8..12;
    /// u32 CRC-32 of every byte from [`CRC_START`](super::CRC_START) to the end of the file.
    pub const CRC: Field = 12..16;
    /// u16 input channels.
    pub const INPUT_CHANNELS: Field = 16..18;
    /// u16 input height.
    pub const INPUT_HEIGHT: Field = 18..20;
    /// u16 input width.
    pub const INPUT_WIDTH: Field = 20..22;
    /// u16 number of classes.
    pub const CLASSES: Field = 22..24;
    /// The metadata section: u32 offset, u32 length.
    pub const METADATA: Field = 24..32;
    /// Bytes in the header.
    pub const LEN: usize = METADATA.end;
}

record_view!(
    /// A zero-copy view of the header at the start of a buffer.
    HeaderView,
    field::LEN,
    "a header"
);

impl<T: AsRef<[u8]>> HeaderView<T> {
    /// The magic bytes.
    pub fn magic(&self) -> [u8; 4] {
        read(self.bytes(), field::MAGIC)
    }

    /// The format version.
    pub fn version(&self) -> u16 {
        u16::from_le_bytes(read(self.bytes(), field::VERSION))
    }

    /// The variant code.
    pub fn variant_code(&self) -> u8 {
        read::<1>(self.bytes(), byte(field::VARIANT))[0]
    }

    /// The number of layer records.
    pub fn layer_count(&self) -> usize {
        usize::from(read::<1>(self.bytes(), byte(field::LAYER_COUNT))[0])
    }

    /// The file length the header declares.
    pub fn file_len(&self) -> u32 {
        read_u32(self.bytes(), field::FILE_LEN)
    }

    /// The stored CRC.
    pub fn crc(&self) -> u32 {
        read_u32(self.bytes(), field::CRC)
    }

    /// The model's input shape.
    pub fn input(&self) -> Shape {
        let b = self.bytes();
        Shape {
            channels: read_u16(b, field::INPUT_CHANNELS),
            height: read_u16(b, field::INPUT_HEIGHT),
            width: read_u16(b, field::INPUT_WIDTH),
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        read_u16(self.bytes(), field::CLASSES)
    }

    /// The metadata section.
    pub fn metadata(&self) -> Section {
        read_section(self.bytes(), field::METADATA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> HeaderView<T> {
    /// Sets the magic bytes.
    pub fn set_magic(&mut self, magic: [u8; 4]) {
        write(self.bytes_mut(), field::MAGIC, &magic);
    }

    /// Sets the format version.
    pub fn set_version(&mut self, version: u16) {
        write(self.bytes_mut(), field::VERSION, &version.to_le_bytes());
    }

    /// Sets the variant.
    pub fn set_variant(&mut self, variant: Variant) {
        write(self.bytes_mut(), byte(field::VARIANT), &[variant.code()]);
    }

    /// Sets the number of layer records.
    pub fn set_layer_count(&mut self, count: u8) {
        write(self.bytes_mut(), byte(field::LAYER_COUNT), &[count]);
    }

    /// Sets the file length.
    pub fn set_file_len(&mut self, len: u32) {
        write(self.bytes_mut(), field::FILE_LEN, &len.to_le_bytes());
    }

    /// Sets the stored CRC.
    pub fn set_crc(&mut self, crc: u32) {
        write(self.bytes_mut(), field::CRC, &crc.to_le_bytes());
    }

    /// Sets the input shape.
    pub fn set_input(&mut self, channels: u16, height: u16, width: u16) {
        let b = self.bytes_mut();
        write(b, field::INPUT_CHANNELS, &channels.to_le_bytes());
        write(b, field::INPUT_HEIGHT, &height.to_le_bytes());
        write(b, field::INPUT_WIDTH, &width.to_le_bytes());
    }

    /// Sets the number of classes.
    pub fn set_classes(&mut self, classes: u16) {
        write(self.bytes_mut(), field::CLASSES, &classes.to_le_bytes());
    }

    /// Sets the metadata section.
    pub fn set_metadata(&mut self, offset: u32, len: u32) {
        write_section(self.bytes_mut(), field::METADATA, offset, len);
    }
}

/// The parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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

/// The CRC-32 of a whole file, as its header stores it.
pub fn file_crc(file: &[u8]) -> u32 {
    crc32(file.get(CRC_START..).unwrap_or_default())
}

/// Parses and checks the header, including the file length and the CRC.
pub fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    let view = HeaderView::new_checked(bytes)?;
    if view.magic() != MAGIC {
        return Err(ParseError::BadMagic);
    }
    if view.version() != VERSION {
        return Err(ParseError::UnsupportedVersion(view.version()));
    }
    let code = view.variant_code();
    let variant = Variant::from_code(code).ok_or(ParseError::UnknownVariant(code))?;
    let layer_count = view.layer_count();
    if layer_count == 0 || layer_count > MAX_LAYERS {
        return Err(ParseError::BadLayerCount(layer_count));
    }
    let declared = view.file_len();
    if usize::try_from(declared).ok() != Some(bytes.len()) {
        return Err(ParseError::LengthMismatch {
            header: declared,
            actual: bytes.len(),
        });
    }
    if !bytes.len().is_multiple_of(SECTION_ALIGN) {
        return Err(ParseError::LengthNotAligned { len: bytes.len() });
    }
    let (stored, computed) = (view.crc(), file_crc(bytes));
    if stored != computed {
        return Err(ParseError::CrcMismatch { stored, computed });
    }
    let (input, classes, metadata) = (view.input(), view.classes(), view.metadata());
    if input.is_empty() || classes == 0 {
        return Err(ParseError::BadInputShape);
    }
    metadata
        .check(bytes.len(), 1)
        .map_err(|fault| ParseError::BadMetadata {
            section: metadata,
            fault,
        })?;
    if core::str::from_utf8(metadata.of(bytes)).is_err() {
        return Err(ParseError::BadMetadata {
            section: metadata,
            fault: SectionFault::NotUtf8,
        });
    }
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
        file_len: bytes.len(),
        input,
        classes,
        metadata,
    })
}
