//! Byte ranges of a file: the metadata and the four payload sections of a layer record, the
//! alignment they keep, and what can be wrong with one ([`SectionFault`]).

use core::fmt;

/// Every section (metadata, weights, biases, requantisation tables, LUTs) starts at a multiple
/// of this, and the file length is one, so a file placed at an aligned address can be read in
/// place.
pub const SECTION_ALIGN: usize = 16;

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Section {
    /// Offset from the start of the file.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Section {
    /// Checks the section lies inside a file of `file_len` bytes and, when not empty, starts
    /// at a multiple of `align`.
    pub fn check(&self, file_len: usize, align: usize) -> Result<(), SectionFault> {
        match self.offset.checked_add(self.len) {
            Some(end) if end <= file_len => {}
            _ => return Err(SectionFault::OutsideFile),
        }
        if self.len > 0 && !self.offset.is_multiple_of(align) {
            return Err(SectionFault::Misaligned);
        }
        Ok(())
    }

    /// The section's bytes in `file` (empty if it does not lie inside).
    pub fn of<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        self.offset
            .checked_add(self.len)
            .and_then(|end| file.get(self.offset..end))
            .unwrap_or_default()
    }
}

/// Something with a length in bytes: a section of a file, or the bytes to write into one.
pub trait ByteLen {
    /// Bytes.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Section {
    fn byte_len(&self) -> usize {
        self.len
    }
}

impl ByteLen for usize {
    fn byte_len(&self) -> usize {
        *self
    }
}

impl ByteLen for &[u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// The four payload sections of a layer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PayloadSection {
    /// Conv OHWI or dense `[out][in]` weights.
    Weights,
    /// One f32 or i32 per output channel.
    Bias,
    /// int8: per output channel an i32 multiplier and an i32 shift.
    Requant,
    /// int8 sigmoid: 256 output codes.
    Lut,
}

impl PayloadSection {
    /// All four, in record order.
    pub const ALL: [PayloadSection; 4] = [
        PayloadSection::Weights,
        PayloadSection::Bias,
        PayloadSection::Requant,
        PayloadSection::Lut,
    ];
}

/// A layer's payloads: byte ranges of a file (`P = Section`, what the parser finds), their
/// sizes (`P = usize`, what the format requires), or the bytes to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Payload<P> {
    /// Conv OHWI or dense `[out][in]` weights: f32 little-endian or int8.
    pub weights: P,
    /// f32 or i32 little-endian, one per output channel.
    pub bias: P,
    /// int8: per output channel an i32 multiplier then an i32 shift.
    pub requant: P,
    /// int8 sigmoid layers: 256 output codes indexed by pre-activation code + 128.
    pub lut: P,
}

impl<P> Payload<P> {
    /// The section named `which`.
    pub fn get(&self, which: PayloadSection) -> &P {
        match which {
            PayloadSection::Weights => &self.weights,
            PayloadSection::Bias => &self.bias,
            PayloadSection::Requant => &self.requant,
            PayloadSection::Lut => &self.lut,
        }
    }
}

/// What is wrong with a section of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SectionFault {
    /// It ends past the end of the file.
    OutsideFile,
    /// It does not start at a multiple of [`SECTION_ALIGN`](crate::format::SECTION_ALIGN).
    Misaligned,
    /// Metadata that is not UTF-8 text.
    NotUtf8,
}

impl fmt::Display for SectionFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SectionFault::OutsideFile => "ends past the end of the file",
            SectionFault::Misaligned => "does not start at a multiple of 16",
            SectionFault::NotUtf8 => "is not UTF-8 text",
        })
    }
}

impl fmt::Display for PayloadSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PayloadSection::Weights => "weights",
            PayloadSection::Bias => "biases",
            PayloadSection::Requant => "requantisation table",
            PayloadSection::Lut => "sigmoid table",
        })
    }
}

impl core::error::Error for SectionFault {}
