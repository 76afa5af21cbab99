//! One UF2 block: the 512-byte record a UF2 bootloader writes to flash, 256 bytes of it at a
//! time, as Microsoft's UF2 specification lays it out (github.com/microsoft/uf2, README).
//!
//! [`Block`] is a zero-copy view over a buffer: its getters parse the fields, its setters emit
//! them, all little-endian; [`Block::new_checked`] checks what every block must satisfy on its
//! own (length, the three magic numbers, a payload that fits).

use core::fmt;

/// The byte ranges of a block's fields.
mod field {
    pub type Field = core::ops::Range<usize>;

    pub const MAGIC_START_0: Field = 0..4;
    pub const MAGIC_START_1: Field = 4..8;
    pub const FLAGS: Field = 8..12;
    pub const TARGET_ADDR: Field = 12..16;
    pub const PAYLOAD_SIZE: Field = 16..20;
    pub const BLOCK_NO: Field = 20..24;
    pub const NUM_BLOCKS: Field = 24..28;
    /// The family ID when [`super::FLAG_FAMILY_ID_PRESENT`] is set, else the file size.
    pub const FAMILY_ID: Field = 28..32;
    pub const DATA: Field = 32..508;
    pub const MAGIC_END: Field = 508..512;
}

/// Bytes in a block.
pub const BLOCK_LEN: usize = 512;
/// "UF2\n".
pub const MAGIC_START_0: u32 = 0x0A32_4655;
pub const MAGIC_START_1: u32 = 0x9E5D_5157;
pub const MAGIC_END: u32 = 0x0AB1_6F30;
/// The block is not for the device's main flash (bootloaders skip it).
pub const FLAG_NOT_MAIN_FLASH: u32 = 0x0000_0001;
/// [`Block::family_id`] holds a family ID (the board family the file is for).
pub const FLAG_FAMILY_ID_PRESENT: u32 = 0x0000_2000;
/// The payload every block of ours carries, and the only one the Raspberry Pi boot ROMs accept.
pub const PAYLOAD_LEN: usize = 256;

/// Which of the three magic numbers is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Start0,
    Start1,
    End,
}

/// Why a buffer is not a UF2 block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockError {
    /// Fewer than [`BLOCK_LEN`] bytes.
    Truncated { len: usize },
    /// A magic number is not the specification's.
    BadMagic { which: Magic, found: u32 },
    /// The payload size is larger than the data field (476 bytes).
    PayloadTooLong { size: u32 },
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::Truncated { len } => {
                write!(f, "{len} bytes where a UF2 block has {BLOCK_LEN}")
            }
            BlockError::BadMagic { which, found } => {
                write!(f, "magic number {which:?} is {found:#010x}, not UF2's")
            }
            BlockError::PayloadTooLong { size } => write!(
                f,
                "payload size {size} is over the {} bytes of the data field",
                field::DATA.len()
            ),
        }
    }
}

impl std::error::Error for BlockError {}

/// A view of one UF2 block in `buffer`.
#[derive(Debug, Clone)]
pub struct Block<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Block<T> {
    /// A view without checks: the getters panic on a buffer shorter than [`BLOCK_LEN`].
    pub fn new_unchecked(buffer: T) -> Self {
        Block { buffer }
    }

    /// A view of a buffer that holds a well-formed block (length, magic numbers, payload size).
    pub fn new_checked(buffer: T) -> Result<Self, BlockError> {
        let len = buffer.as_ref().len();
        if len < BLOCK_LEN {
            return Err(BlockError::Truncated { len });
        }
        let block = Block { buffer };
        for (which, field, expected) in [
            (Magic::Start0, field::MAGIC_START_0, MAGIC_START_0),
            (Magic::Start1, field::MAGIC_START_1, MAGIC_START_1),
            (Magic::End, field::MAGIC_END, MAGIC_END),
        ] {
            let found = block.u32_at(field);
            if found != expected {
                return Err(BlockError::BadMagic { which, found });
            }
        }
        let size = block.payload_size();
        if size as usize > field::DATA.len() {
            return Err(BlockError::PayloadTooLong { size });
        }
        Ok(block)
    }

    fn u32_at(&self, field: field::Field) -> u32 {
        let bytes = &self.buffer.as_ref()[field];
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    pub fn flags(&self) -> u32 {
        self.u32_at(field::FLAGS)
    }

    /// The flash address the payload goes to.
    pub fn target_addr(&self) -> u32 {
        self.u32_at(field::TARGET_ADDR)
    }

    pub fn payload_size(&self) -> u32 {
        self.u32_at(field::PAYLOAD_SIZE)
    }

    /// This block's number, from 0.
    pub fn block_no(&self) -> u32 {
        self.u32_at(field::BLOCK_NO)
    }

    /// Blocks in the file.
    pub fn num_blocks(&self) -> u32 {
        self.u32_at(field::NUM_BLOCKS)
    }

    /// The family ID, when the block has one ([`FLAG_FAMILY_ID_PRESENT`]).
    pub fn family_id(&self) -> Option<u32> {
        (self.flags() & FLAG_FAMILY_ID_PRESENT != 0).then(|| self.u32_at(field::FAMILY_ID))
    }

    /// The bytes written to flash (checked blocks only: the size was checked to fit).
    pub fn payload(&self) -> &[u8] {
        let data = &self.buffer.as_ref()[field::DATA];
        &data[..(self.payload_size() as usize).min(data.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Block<T> {
    fn set_u32_at(&mut self, field: field::Field, value: u32) {
        self.buffer.as_mut()[field].copy_from_slice(&value.to_le_bytes());
    }

    /// Writes the three magic numbers.
    pub fn set_magics(&mut self) {
        self.set_u32_at(field::MAGIC_START_0, MAGIC_START_0);
        self.set_u32_at(field::MAGIC_START_1, MAGIC_START_1);
        self.set_u32_at(field::MAGIC_END, MAGIC_END);
    }

    pub fn set_flags(&mut self, flags: u32) {
        self.set_u32_at(field::FLAGS, flags);
    }

    pub fn set_target_addr(&mut self, addr: u32) {
        self.set_u32_at(field::TARGET_ADDR, addr);
    }

    pub fn set_block_no(&mut self, number: u32) {
        self.set_u32_at(field::BLOCK_NO, number);
    }

    pub fn set_num_blocks(&mut self, count: u32) {
        self.set_u32_at(field::NUM_BLOCKS, count);
    }

    /// Sets the family ID and its flag.
    pub fn set_family_id(&mut self, family: u32) {
        let flags = self.flags() | FLAG_FAMILY_ID_PRESENT;
        self.set_flags(flags);
        self.set_u32_at(field::FAMILY_ID, family);
    }

    /// Copies `payload` (at most 476 bytes) into the data field, zeroes the rest of it and sets
    /// the payload size.
    pub fn set_payload(&mut self, payload: &[u8]) {
        let data = &mut self.buffer.as_mut()[field::DATA];
        data[..payload.len()].copy_from_slice(payload);
        data[payload.len()..].fill(0);
        self.set_u32_at(field::PAYLOAD_SIZE, payload.len() as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the specification's example writes it, field by field.
    fn spec_block() -> [u8; BLOCK_LEN] {
        let mut bytes = [0u8; BLOCK_LEN];
        let words: [(usize, u32); 9] = [
            (0, 0x0A32_4655),
            (4, 0x9E5D_5157),
            (8, 0x2000),
            (12, 0x1000_0100),
            (16, 256),
            (20, 1),
            (24, 3),
            (28, 0xE48B_FF56),
            (508, 0x0AB1_6F30),
        ];
        for (at, word) in words {
            bytes[at..at + 4].copy_from_slice(&word.to_le_bytes());
        }
        bytes[32..288].fill(0xA5);
        bytes
    }

    #[test]
    fn getters_read_the_specifications_layout() {
        let bytes = spec_block();
        let block = Block::new_checked(&bytes[..]).unwrap();
        assert_eq!(block.target_addr(), 0x1000_0100);
        assert_eq!((block.block_no(), block.num_blocks()), (1, 3));
        assert_eq!(block.family_id(), Some(0xE48B_FF56));
        assert_eq!(block.payload(), &[0xA5; 256][..]);
    }

    #[test]
    fn setters_write_what_the_getters_read() {
        let mut bytes = [0xFFu8; BLOCK_LEN];
        let mut block = Block::new_unchecked(&mut bytes[..]);
        block.set_magics();
        block.set_flags(0);
        block.set_target_addr(0x1000_0100);
        block.set_block_no(1);
        block.set_num_blocks(3);
        block.set_family_id(0xE48B_FF56);
        block.set_payload(&[0xA5; 256]);
        assert_eq!(bytes, spec_block());
    }

    #[test]
    fn malformed_blocks_are_named() {
        assert_eq!(
            Block::new_checked(&[0u8; 100][..]).unwrap_err(),
            BlockError::Truncated { len: 100 }
        );
        let mut bytes = spec_block();
        bytes[509] ^= 1;
        assert!(matches!(
            Block::new_checked(&bytes[..]).unwrap_err(),
            BlockError::BadMagic {
                which: Magic::End,
                ..
            }
        ));
        let mut bytes = spec_block();
        bytes[16..20].copy_from_slice(&477u32.to_le_bytes());
        let err = Block::new_checked(&bytes[..]).unwrap_err();
        assert_eq!(err, BlockError::PayloadTooLong { size: 477 });
        assert!(err.to_string().contains("476"));
    }

    #[test]
    fn without_the_flag_the_word_is_no_family() {
        let mut bytes = spec_block();
        bytes[8..12].fill(0);
        assert_eq!(Block::new_checked(&bytes[..]).unwrap().family_id(), None);
    }
}
