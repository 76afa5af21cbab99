//! UF2 files for the boards: the format a Raspberry Pi Pico's boot ROM takes by drag and drop
//! (hold BOOTSEL, plug in, copy the file onto the drive that appears), written from the firmware's
//! ELF image and read back to check it.
//!
//! - [`block`]: one 512-byte UF2 block (the specification's field map, parse and emit).
//! - [`elf`]: the bytes an ELF image puts into flash.
//! - [`Family`]: the chips and their family IDs; [`to_uf2`] and [`Uf2Image::parse`] convert and
//!   read back; [`boot2_crc_holds`] checks the RP2040's second-stage boot loader.

use core::fmt;
use core::ops::Range;
use std::collections::BTreeMap;

pub mod block;
pub mod elf;

use block::{BLOCK_LEN, Block, BlockError, PAYLOAD_LEN};
use elf::{ElfError, Segment};

/// The chip a UF2 file is for, as its family ID tells the boot ROM (which skips blocks of other
/// families).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// RP2040 (the Pico).
    Rp2040,
    /// RP2350 running Arm code in secure mode (the Pico 2's default, and ours).
    Rp2350ArmSecure,
}

impl Family {
    /// The family ID (pico-sdk's `boot/uf2.h`).
    pub fn id(self) -> u32 {
        match self {
            Family::Rp2040 => 0xE48B_FF56,
            Family::Rp2350ArmSecure => 0xE48B_FF59,
        }
    }

    /// The chip's flash as the boot ROM writes it (XIP address range; the boards' 2 MB and
    /// 4 MB parts).
    pub fn flash(self) -> Range<u32> {
        match self {
            Family::Rp2040 => 0x1000_0000..0x1020_0000,
            Family::Rp2350ArmSecure => 0x1000_0000..0x1040_0000,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::Rp2040 => "rp2040",
            Family::Rp2350ArmSecure => "rp2350-arm-s",
        }
    }

    pub const ALL: [Family; 2] = [Family::Rp2040, Family::Rp2350ArmSecure];

    /// The family named `name` ([`Family::name`]).
    pub fn named(name: &str) -> Option<Family> {
        Family::ALL.into_iter().find(|family| family.name() == name)
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a UF2 file could not be written or does not hold what it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uf2Error {
    /// The ELF image's flash contents could not be read.
    Elf(ElfError),
    /// The file's length is not a whole number of blocks.
    PartialBlock { len: usize },
    /// Block `index` is malformed.
    Block { index: usize, error: BlockError },
    /// Block `index` breaks a rule every block of the file must keep (numbering, family,
    /// payload size, alignment, order).
    Rule { index: usize, rule: &'static str },
    /// No blocks.
    Empty,
}

impl fmt::Display for Uf2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uf2Error::Elf(error) => write!(f, "ELF image: {error}"),
            Uf2Error::PartialBlock { len } => {
                write!(
                    f,
                    "{len} bytes is not a whole number of {BLOCK_LEN}-byte blocks"
                )
            }
            Uf2Error::Block { index, error } => write!(f, "block {index}: {error}"),
            Uf2Error::Rule { index, rule } => write!(f, "block {index}: {rule}"),
            Uf2Error::Empty => f.write_str("no blocks"),
        }
    }
}

impl std::error::Error for Uf2Error {}

impl From<ElfError> for Uf2Error {
    fn from(error: ElfError) -> Self {
        Uf2Error::Elf(error)
    }
}

/// The flash pages (256-byte aligned, [`PAYLOAD_LEN`] bytes) that `segments` touch, with the
/// segments' bytes in place and zeros around them.
pub fn flash_pages(segments: &[Segment<'_>]) -> BTreeMap<u32, [u8; PAYLOAD_LEN]> {
    let page_len = PAYLOAD_LEN as u32;
    let mut pages = BTreeMap::new();
    for segment in segments {
        for (i, &byte) in segment.bytes.iter().enumerate() {
            let address = segment.address + i as u32;
            let page = pages
                .entry(address / page_len * page_len)
                .or_insert([0u8; PAYLOAD_LEN]);
            page[(address % page_len) as usize] = byte;
        }
    }
    pages
}

/// The pages a UF2 file for `segments` on `family` writes: [`flash_pages`], and on the RP2040
/// every page between them too (zeros), from the start of flash.
///
/// Why: the RP2040 boot ROM erases the 4 KB sector `block_no * 256 / 4096`, not the sector of
/// the block's address (erratum RP2040-E14; pico-bootrom-rp2040 `virtual_disk.c`), so its
/// blocks must be numbered from the start of flash with no page left out. The RP2350's boot ROM
/// erases by address and takes any set of pages.
pub fn image_pages(
    segments: &[Segment<'_>],
    family: Family,
) -> Result<BTreeMap<u32, [u8; PAYLOAD_LEN]>, Uf2Error> {
    let mut pages = flash_pages(segments);
    if family == Family::Rp2040 {
        let start = family.flash().start;
        if pages.first_key_value().map(|(&first, _)| first) != Some(start) {
            return Err(Uf2Error::Elf(ElfError::NotAtFlashStart { start }));
        }
        let last = pages.last_key_value().map_or(start, |(&last, _)| last);
        for page in (start..=last).step_by(PAYLOAD_LEN) {
            pages.entry(page).or_insert([0u8; PAYLOAD_LEN]);
        }
    }
    Ok(pages)
}

/// The UF2 file for the ELF image `elf_file` on `family`: one block per page of
/// [`image_pages`], in address order, numbered from 0, each with the family ID.
///
/// No RP2350-E10 "absolute" block is written: picotool adds one only on request, for images
/// that go into a partition table, and the boards' images have none.
pub fn to_uf2(elf_file: &[u8], family: Family) -> Result<Vec<u8>, Uf2Error> {
    let segments = elf::flash_segments(elf_file, family.flash())?;
    let pages = image_pages(&segments, family)?;
    let count = pages.len() as u32;
    let mut file = vec![0u8; pages.len() * BLOCK_LEN];
    for (index, ((&address, payload), bytes)) in pages
        .iter()
        .zip(file.chunks_exact_mut(BLOCK_LEN))
        .enumerate()
    {
        let mut block = Block::new_unchecked(bytes);
        block.set_magics();
        block.set_flags(0);
        block.set_target_addr(address);
        block.set_block_no(index as u32);
        block.set_num_blocks(count);
        block.set_family_id(family.id());
        block.set_payload(payload);
    }
    Ok(file)
}

/// A UF2 file read back: its family and the pages it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uf2Image {
    pub family_id: u32,
    /// Page address -> contents, in address order.
    pub pages: BTreeMap<u32, Vec<u8>>,
}

impl Uf2Image {
    /// Reads `file` and checks what the boot ROMs rely on: whole well-formed blocks numbered
    /// 0..n with n in every block, one family ID in all, 256-byte payloads at 256-byte aligned
    /// addresses in increasing order.
    pub fn parse(file: &[u8]) -> Result<Uf2Image, Uf2Error> {
        if !file.len().is_multiple_of(BLOCK_LEN) {
            return Err(Uf2Error::PartialBlock { len: file.len() });
        }
        let count = file.len() / BLOCK_LEN;
        let mut family_id = None;
        let mut pages = BTreeMap::new();
        let mut last_address = None;
        for (index, bytes) in file.chunks_exact(BLOCK_LEN).enumerate() {
            let block =
                Block::new_checked(bytes).map_err(|error| Uf2Error::Block { index, error })?;
            let rule = |rule| Uf2Error::Rule { index, rule };
            if block.block_no() as usize != index {
                return Err(rule("its number is not its position in the file"));
            }
            if block.num_blocks() as usize != count {
                return Err(rule("its block count is not the file's"));
            }
            let id = block.family_id().ok_or_else(|| rule("no family ID"))?;
            if *family_id.get_or_insert(id) != id {
                return Err(rule("another family ID than the first block's"));
            }
            if block.payload_size() as usize != PAYLOAD_LEN {
                return Err(rule("a payload of other than 256 bytes"));
            }
            let address = block.target_addr();
            if !address.is_multiple_of(PAYLOAD_LEN as u32) {
                return Err(rule("an address not aligned to 256 bytes"));
            }
            if last_address.is_some_and(|last| address <= last) {
                return Err(rule("an address not above the previous block's"));
            }
            last_address = Some(address);
            pages.insert(address, block.payload().to_vec());
        }
        let family_id = family_id.ok_or(Uf2Error::Empty)?;
        Ok(Uf2Image { family_id, pages })
    }
}

/// Whether the RP2040's second-stage boot loader (the first 256 bytes of flash) carries the
/// checksum the boot ROM checks before running it: CRC-32/MPEG-2 of the first 252 bytes
/// (polynomial 0x04C11DB7, initial value 0xFFFFFFFF, not reflected, no final XOR), stored
/// little-endian in the last 4.
pub fn boot2_crc_holds(boot2: &[u8; PAYLOAD_LEN]) -> bool {
    let (code, stored) = boot2.split_at(PAYLOAD_LEN - 4);
    let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
    crc32_mpeg2(code) == stored
}

fn crc32_mpeg2(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::test_elf;

    const PT_LOAD: u32 = 1;

    #[test]
    fn the_crc_is_crc32_mpeg2() {
        // The catalogue's check value: CRC-32/MPEG-2 of "123456789".
        assert_eq!(crc32_mpeg2(b"123456789"), 0x0376_E6E7);
    }

    #[test]
    fn boot2_checksums_are_checked() {
        let mut boot2 = [0x5Au8; PAYLOAD_LEN];
        let crc = crc32_mpeg2(&boot2[..252]);
        boot2[252..].copy_from_slice(&crc.to_le_bytes());
        assert!(boot2_crc_holds(&boot2));
        boot2[17] ^= 0x80;
        assert!(!boot2_crc_holds(&boot2));
    }

    #[test]
    fn the_file_covers_the_segments_page_by_page_and_reads_back() {
        // A segment across a page boundary, one in the middle of a later page.
        let first: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let elf = test_elf(&[
            (PT_LOAD, 0x1000_0000, &first),
            (PT_LOAD, 0x1000_1010, &[7, 8, 9]),
        ]);
        let file = to_uf2(&elf, Family::Rp2350ArmSecure).unwrap();
        assert_eq!(file.len(), 3 * BLOCK_LEN);
        let image = Uf2Image::parse(&file).unwrap();
        assert_eq!(image.family_id, 0xE48B_FF59);
        let addresses: Vec<u32> = image.pages.keys().copied().collect();
        assert_eq!(addresses, [0x1000_0000, 0x1000_0100, 0x1000_1000]);
        assert_eq!(image.pages[&0x1000_0000], first[..256]);
        assert_eq!(image.pages[&0x1000_0100][..44], first[256..]);
        assert!(image.pages[&0x1000_0100][44..].iter().all(|&b| b == 0));
        assert_eq!(image.pages[&0x1000_1000][0x10..0x13], [7, 8, 9]);
    }

    /// A well-formed two-block file for `family`.
    fn two_blocks(family: Family) -> Vec<u8> {
        to_uf2(&test_elf(&[(PT_LOAD, 0x1000_0000, &[1; 512])]), family).unwrap()
    }

    #[test]
    fn files_that_break_a_rule_are_refused_with_the_block_named() {
        let good = two_blocks(Family::Rp2040);
        assert!(Uf2Image::parse(&good).is_ok());

        /// Breaks one field of the second block.
        type Breaker = fn(&mut Vec<u8>);
        let cases: [(&str, Breaker); 6] = [
            ("numbered", |f| f[512 + 20] = 5),
            ("count", |f| f[512 + 24] = 3),
            ("family", |f| f[512 + 28] ^= 1),
            ("payload", |f| f[512 + 17] = 0),
            ("aligned", |f| f[512 + 12] = 0x80),
            ("order", |f| f[512 + 13] = 0x00),
        ];
        for (what, break_it) in cases {
            let mut file = good.clone();
            break_it(&mut file);
            let err = Uf2Image::parse(&file).unwrap_err();
            assert!(
                matches!(err, Uf2Error::Rule { index: 1, .. }),
                "{what}: {err}"
            );
        }
        assert!(matches!(
            Uf2Image::parse(&good[..700]),
            Err(Uf2Error::PartialBlock { len: 700 })
        ));
        assert_eq!(Uf2Image::parse(&[]), Err(Uf2Error::Empty));
    }

    #[test]
    fn rp2040_files_have_every_page_from_the_start_of_flash() {
        let elf = test_elf(&[
            (PT_LOAD, 0x1000_0000, &[1; 256]),
            (PT_LOAD, 0x1000_0400, &[2; 16]),
        ]);
        let rp2040 = Uf2Image::parse(&to_uf2(&elf, Family::Rp2040).unwrap()).unwrap();
        let addresses: Vec<u32> = rp2040.pages.keys().copied().collect();
        assert_eq!(
            addresses,
            [
                0x1000_0000,
                0x1000_0100,
                0x1000_0200,
                0x1000_0300,
                0x1000_0400
            ]
        );
        assert!(rp2040.pages[&0x1000_0200].iter().all(|&b| b == 0));
        let rp2350 = Uf2Image::parse(&to_uf2(&elf, Family::Rp2350ArmSecure).unwrap()).unwrap();
        assert_eq!(rp2350.pages.len(), 2);

        let late = test_elf(&[(PT_LOAD, 0x1000_0100, &[1])]);
        let err = to_uf2(&late, Family::Rp2040).unwrap_err();
        assert!(err.to_string().contains("start of flash"), "{err}");
    }

    #[test]
    fn families_are_named_and_bounded() {
        for family in Family::ALL {
            assert_eq!(Family::named(family.name()), Some(family));
        }
        assert_eq!(Family::named("rp2350"), None);
        let beyond = test_elf(&[(PT_LOAD, 0x1000_0000, &[1]), (PT_LOAD, 0x1020_0000, &[1])]);
        assert!(to_uf2(&beyond, Family::Rp2040).is_err());
        assert!(to_uf2(&beyond, Family::Rp2350ArmSecure).is_ok());
    }
}
