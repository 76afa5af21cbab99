//! The bytes an ELF image puts into flash: its loadable segments (`PT_LOAD` program headers with
//! file contents), each at its physical (load) address, from a 32-bit little-endian Arm ELF as
//! rustc and the GNU linker write them for a Cortex-M.
//!
//! Only the program headers are read, as a loader does: section headers, symbols and debug
//! information are ignored.

use core::fmt;
use core::ops::Range;

/// The byte ranges of the ELF header fields read here (32-bit layout).
mod header {
    use core::ops::Range;

    pub const MAGIC: Range<usize> = 0..4;
    pub const CLASS: usize = 4;
    pub const DATA: usize = 5;
    pub const MACHINE: Range<usize> = 18..20;
    pub const PHOFF: Range<usize> = 28..32;
    pub const PHENTSIZE: Range<usize> = 42..44;
    pub const PHNUM: Range<usize> = 44..46;
    /// The header's length.
    pub const LEN: usize = 52;
}

/// The byte ranges of a 32-bit program header's fields.
mod program_header {
    use core::ops::Range;

    pub const TYPE: Range<usize> = 0..4;
    pub const OFFSET: Range<usize> = 4..8;
    pub const PADDR: Range<usize> = 12..16;
    pub const FILESZ: Range<usize> = 16..20;
    pub const LEN: usize = 32;
}

const MAGIC: [u8; 4] = *b"\x7fELF";
const CLASS_32: u8 = 1;
const DATA_LITTLE_ENDIAN: u8 = 1;
const MACHINE_ARM: u16 = 40;
const PT_LOAD: u32 = 1;

/// Why a file's flash contents cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file (magic), or not the 32-bit little-endian Arm kind.
    NotArmElf32(&'static str),
    /// A header or a segment's contents lie past the end of the file.
    Truncated {
        what: &'static str,
        end: u64,
        len: usize,
    },
    /// A program header entry size other than the 32-bit layout's.
    ProgramHeaderSize(u16),
    /// A segment with contents outside the flash range given.
    OutsideFlash {
        start: u32,
        end: u64,
        flash: Range<u32>,
    },
    /// Two segments that load to the same bytes.
    Overlap { first: u32, second: u32 },
    /// No segment with contents in flash.
    NothingToFlash,
    /// The image does not begin at the start of flash, where the chip boots from.
    NotAtFlashStart { start: u32 },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotArmElf32(why) => write!(f, "not a 32-bit little-endian Arm ELF: {why}"),
            ElfError::Truncated { what, end, len } => {
                write!(
                    f,
                    "the {what} ends at byte {end}, past the file's {len} bytes"
                )
            }
            ElfError::ProgramHeaderSize(size) => {
                write!(f, "program headers of {size} bytes (32-bit ELF has 32)")
            }
            ElfError::OutsideFlash { start, end, flash } => write!(
                f,
                "a segment loads to {start:#010x}..{end:#010x}, outside flash \
                 {:#010x}..{:#010x}",
                flash.start, flash.end
            ),
            ElfError::Overlap { first, second } => {
                write!(f, "segments at {first:#010x} and {second:#010x} overlap")
            }
            ElfError::NothingToFlash => f.write_str("no loadable segment with contents"),
            ElfError::NotAtFlashStart { start } => {
                write!(f, "nothing loads at the start of flash ({start:#010x})")
            }
        }
    }
}

impl std::error::Error for ElfError {}

/// Bytes that go to flash at `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment<'a> {
    pub address: u32,
    pub bytes: &'a [u8],
}

impl Segment<'_> {
    /// One past the last address.
    pub fn end(&self) -> u64 {
        u64::from(self.address) + self.bytes.len() as u64
    }
}

fn bytes_at<'a>(file: &'a [u8], at: Range<u64>, what: &'static str) -> Result<&'a [u8], ElfError> {
    let truncated = ElfError::Truncated {
        what,
        end: at.end,
        len: file.len(),
    };
    let start = usize::try_from(at.start).map_err(|_| truncated.clone())?;
    let end = usize::try_from(at.end).map_err(|_| truncated.clone())?;
    file.get(start..end).ok_or(truncated)
}

fn u16_at(bytes: &[u8], at: Range<usize>) -> u16 {
    u16::from_le_bytes([bytes[at.start], bytes[at.start + 1]])
}

fn u32_at(bytes: &[u8], at: Range<usize>) -> u32 {
    let b = &bytes[at];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The segments of `file` that hold bytes, sorted by address, each inside `flash`, none
/// overlapping another.
pub fn flash_segments(file: &[u8], flash: Range<u32>) -> Result<Vec<Segment<'_>>, ElfError> {
    let header = bytes_at(file, 0..header::LEN as u64, "ELF header")?;
    if header[header::MAGIC] != MAGIC {
        return Err(ElfError::NotArmElf32("no ELF magic"));
    }
    if header[header::CLASS] != CLASS_32 {
        return Err(ElfError::NotArmElf32("not 32-bit"));
    }
    if header[header::DATA] != DATA_LITTLE_ENDIAN {
        return Err(ElfError::NotArmElf32("not little-endian"));
    }
    if u16_at(header, header::MACHINE) != MACHINE_ARM {
        return Err(ElfError::NotArmElf32("not for Arm"));
    }
    let entry_size = u16_at(header, header::PHENTSIZE);
    if usize::from(entry_size) != program_header::LEN {
        return Err(ElfError::ProgramHeaderSize(entry_size));
    }
    let table_start = u64::from(u32_at(header, header::PHOFF));
    let count = u64::from(u16_at(header, header::PHNUM));
    let table_end = table_start + count * program_header::LEN as u64;
    let table = bytes_at(file, table_start..table_end, "program header table")?;

    let mut segments = Vec::new();
    for entry in table.chunks_exact(program_header::LEN) {
        let size = u32_at(entry, program_header::FILESZ);
        if u32_at(entry, program_header::TYPE) != PT_LOAD || size == 0 {
            continue;
        }
        let offset = u64::from(u32_at(entry, program_header::OFFSET));
        let bytes = bytes_at(file, offset..offset + u64::from(size), "segment")?;
        let segment = Segment {
            address: u32_at(entry, program_header::PADDR),
            bytes,
        };
        if segment.address < flash.start || segment.end() > u64::from(flash.end) {
            return Err(ElfError::OutsideFlash {
                start: segment.address,
                end: segment.end(),
                flash,
            });
        }
        segments.push(segment);
    }
    segments.sort_by_key(|segment| segment.address);
    for pair in segments.windows(2) {
        if pair[0].end() > u64::from(pair[1].address) {
            return Err(ElfError::Overlap {
                first: pair[0].address,
                second: pair[1].address,
            });
        }
    }
    if segments.is_empty() {
        return Err(ElfError::NothingToFlash);
    }
    Ok(segments)
}

/// A minimal ELF image with the given `(type, physical address, contents)` program headers, for
/// the tests here and in the crate.
#[cfg(test)]
pub(crate) fn test_elf(segments: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let table = header::LEN;
    let mut file = vec![0u8; table + segments.len() * program_header::LEN];
    file[header::MAGIC].copy_from_slice(&MAGIC);
    file[header::CLASS] = CLASS_32;
    file[header::DATA] = DATA_LITTLE_ENDIAN;
    file[header::MACHINE].copy_from_slice(&MACHINE_ARM.to_le_bytes());
    file[header::PHOFF].copy_from_slice(&(table as u32).to_le_bytes());
    file[header::PHENTSIZE].copy_from_slice(&(program_header::LEN as u16).to_le_bytes());
    file[header::PHNUM].copy_from_slice(&(segments.len() as u16).to_le_bytes());
    for (i, (kind, address, bytes)) in segments.iter().enumerate() {
        let offset = file.len() as u32;
        file.extend_from_slice(bytes);
        let entry = &mut file[table + i * program_header::LEN..][..program_header::LEN];
        entry[program_header::TYPE].copy_from_slice(&kind.to_le_bytes());
        entry[program_header::OFFSET].copy_from_slice(&offset.to_le_bytes());
        entry[program_header::PADDR].copy_from_slice(&address.to_le_bytes());
        entry[program_header::FILESZ].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLASH: Range<u32> = 0x1000_0000..0x1040_0000;

    #[test]
    fn loadable_segments_come_sorted_with_their_load_addresses() {
        let file = test_elf(&[
            (PT_LOAD, 0x1000_1000, &[3, 4]),
            (PT_LOAD, 0x1000_0000, &[1, 2]),
            (6, 0x1000_2000, &[9]),      // PT_PHDR: not loaded
            (PT_LOAD, 0x2000_0000, &[]), // .bss: no contents
        ]);
        let segments = flash_segments(&file, FLASH).unwrap();
        let got: Vec<(u32, &[u8])> = segments.iter().map(|s| (s.address, s.bytes)).collect();
        assert_eq!(
            got,
            [(0x1000_0000, &[1, 2][..]), (0x1000_1000, &[3, 4][..])]
        );
    }

    #[test]
    fn what_cannot_be_flashed_is_named() {
        let outside = test_elf(&[(PT_LOAD, 0x2000_0000, &[1])]);
        let err = flash_segments(&outside, FLASH).unwrap_err();
        assert!(matches!(
            err,
            ElfError::OutsideFlash {
                start: 0x2000_0000,
                ..
            }
        ));
        assert!(err.to_string().contains("outside flash"), "{err}");

        let overlapping = test_elf(&[
            (PT_LOAD, 0x1000_0000, &[1; 8]),
            (PT_LOAD, 0x1000_0004, &[2]),
        ]);
        assert!(matches!(
            flash_segments(&overlapping, FLASH),
            Err(ElfError::Overlap { .. })
        ));

        assert_eq!(
            flash_segments(&test_elf(&[]), FLASH),
            Err(ElfError::NothingToFlash)
        );

        let mut not_arm = test_elf(&[(PT_LOAD, 0x1000_0000, &[1])]);
        not_arm[18] = 62; // x86-64
        assert!(matches!(
            flash_segments(&not_arm, FLASH),
            Err(ElfError::NotArmElf32(_))
        ));
    }

    #[test]
    fn truncated_files_fail_at_every_length() {
        let file = test_elf(&[(PT_LOAD, 0x1000_0000, &[1, 2, 3, 4])]);
        for len in 0..file.len() {
            assert!(flash_segments(&file[..len], FLASH).is_err(), "{len} bytes");
        }
        assert!(flash_segments(&file, FLASH).is_ok());
    }
}
