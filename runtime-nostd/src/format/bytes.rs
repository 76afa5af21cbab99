//! Reading and writing the fields of a record: little-endian integers, sections and
//! quantisations at the byte ranges the field maps name, and the zero-copy view type every
//! record gets ([`record_view!`]). A buffer too short for a field reads zeros and ignores
//! writes; the views' checked constructors rule that out.

use core::ops::Range;

use super::section::Section;
use super::tensor::Quantization;

/// A byte range of a record.
pub type Field = Range<usize>;

/// The bytes of `field` in `buffer` as an array (zeros if the buffer is too short, which the
/// views' checked constructors rule out).
pub(super) fn read<const N: usize>(buffer: &[u8], field: Field) -> [u8; N] {
    buffer
        .get(field)
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or([0; N])
}

/// Writes `bytes` into `field` of `buffer` (nothing if the buffer is too short).
pub(super) fn write(buffer: &mut [u8], field: Field, bytes: &[u8]) {
    if let Some(dst) = buffer.get_mut(field)
        && dst.len() == bytes.len()
    {
        dst.copy_from_slice(bytes);
    }
}

/// The one-byte field at `at`.
pub(super) const fn byte(at: usize) -> Field {
    at..at + 1
}

pub(super) fn read_u16(buffer: &[u8], field: Field) -> usize {
    usize::from(u16::from_le_bytes(read(buffer, field)))
}

pub(super) fn read_u32(buffer: &[u8], field: Field) -> u32 {
    u32::from_le_bytes(read(buffer, field))
}

/// A section field: u32 offset then u32 length (saturating to `usize::MAX` where a `usize`
/// is narrower, which makes the section fall outside any file).
pub(super) fn read_section(buffer: &[u8], field: Field) -> Section {
    let start = field.start;
    let value = |at: usize| usize::try_from(read_u32(buffer, at..at + 4)).unwrap_or(usize::MAX);
    Section {
        offset: value(start),
        len: value(start + 4),
    }
}

pub(super) fn write_section(buffer: &mut [u8], field: Field, offset: u32, len: u32) {
    let start = field.start;
    write(buffer, start..start + 4, &offset.to_le_bytes());
    write(buffer, start + 4..start + 8, &len.to_le_bytes());
}

pub(super) fn read_quantization(buffer: &[u8], field: Field) -> Quantization {
    let start = field.start;
    Quantization {
        scale: f32::from_le_bytes(read(buffer, start..start + 4)),
        zero_point: i32::from_le_bytes(read(buffer, start + 4..start + 8)),
    }
}

pub(super) fn write_quantization(buffer: &mut [u8], field: Field, q: Quantization) {
    let start = field.start;
    write(buffer, start..start + 4, &q.scale.to_le_bytes());
    write(buffer, start + 4..start + 8, &q.zero_point.to_le_bytes());
}

/// Declares a zero-copy view over a byte buffer holding a record of `$len` bytes: its checked
/// and unchecked constructors and its raw bytes; getters and setters come in its own impls.
macro_rules! record_view {
    ($(#[$meta:meta])* $name:ident, $len:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<T> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// A view without a length check: getters of a short buffer read zeros.
            pub const fn new_unchecked(buffer: T) -> Self {
                $name { buffer }
            }

            #[doc = concat!("A view of a buffer that holds at least ", $what, ".")]
            pub fn new_checked(buffer: T) -> Result<Self, $crate::format::error::ParseError> {
                let len = buffer.as_ref().len();
                if len < $len {
                    return Err($crate::format::error::ParseError::TooShort { len, needed: $len });
                }
                Ok($name { buffer })
            }

            /// The buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            fn bytes(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            fn bytes_mut(&mut self) -> &mut [u8] {
                self.buffer.as_mut()
            }
        }
    };
}

pub(super) use record_view;
