//! The touch calibration as a record in flash, so a board keeps it across resets: a magic, a
//! format version, the six coefficients of [`Calibration`] and a CRC-32 over all of them. A
//! zero-copy view in the style of smoltcp's `wire` modules: [`CalibrationRecord::new_checked`]
//! accepts a buffer only when every field holds (never a garbage calibration), the getters read
//! the fields and [`CalibrationRecord::emit`] writes them. A board that finds no valid record
//! (erased flash, another version, a torn write) uses its built-in default.
//!
//! ```
//! use app::calibration_record::{CalibrationRecord, RECORD_LEN};
//! use app::touch::Calibration;
//!
//! let fitted = Calibration { coefficients: [0.0, -0.09, 351.0, 0.067, 0.0, -17.5] };
//! let mut flash = [0xFF; RECORD_LEN];
//! CalibrationRecord::new_unchecked(&mut flash[..]).emit(&fitted);
//! let stored = CalibrationRecord::new_checked(&flash[..]).unwrap();
//! assert_eq!(stored.calibration(), fitted);
//! ```

use core::fmt;

use runtime_nostd::crc32::crc32;

use crate::touch::Calibration;

/// Where each field sits, in bytes; all little-endian.
mod field {
    use core::ops::Range;

    /// [`super::MAGIC`].
    pub const MAGIC: Range<usize> = 0..4;
    /// The format version, u16.
    pub const VERSION: Range<usize> = 4..6;
    /// Zero, u16: keeps the coefficients 4-byte aligned.
    pub const RESERVED: Range<usize> = 6..8;
    /// Six f32 coefficients `[a, b, c, d, e, f]` of [`crate::touch::Calibration`].
    pub const COEFFICIENTS: Range<usize> = 8..32;
    /// CRC-32 (IEEE) of every byte before it, u32.
    pub const CRC: Range<usize> = 32..36;
}

/// The bytes a record takes.
pub const RECORD_LEN: usize = field::CRC.end;
/// What a record starts with: "MNTC" (mnist-edge touch calibration).
pub const MAGIC: [u8; 4] = *b"MNTC";
/// The format this module reads and writes.
pub const VERSION: u16 = 1;

/// Why bytes are not a calibration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RecordError {
    /// Fewer bytes than a record.
    Truncated {
        /// How many there are.
        len: usize,
    },
    /// Every byte reads 0xFF: erased flash, nothing was ever stored.
    Erased,
    /// Another magic: the bytes are something else.
    BadMagic,
    /// A record of another format version.
    UnsupportedVersion {
        /// The record's.
        version: u16,
    },
    /// The CRC does not match: a torn or corrupted write.
    BadCrc {
        /// The CRC the record holds.
        stored: u32,
        /// The CRC of its bytes.
        computed: u32,
    },
    /// A coefficient is NaN or infinite: not a map to screen pixels.
    NotFinite,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Truncated { len } => write!(
                f,
                "{len} bytes is shorter than a calibration record ({RECORD_LEN})"
            ),
            RecordError::Erased => write!(f, "no calibration stored (erased flash)"),
            RecordError::BadMagic => write!(f, "not a calibration record (magic)"),
            RecordError::UnsupportedVersion { version } => write!(
                f,
                "calibration record version {version}; this firmware reads version {VERSION}"
            ),
            RecordError::BadCrc { stored, computed } => write!(
                f,
                "calibration record corrupt: CRC {stored:#010x} stored, {computed:#010x} computed"
            ),
            RecordError::NotFinite => write!(f, "calibration record holds a NaN or infinity"),
        }
    }
}

impl core::error::Error for RecordError {}

/// A calibration record over a byte buffer.
#[derive(Debug, Clone, Copy)]
pub struct CalibrationRecord<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> CalibrationRecord<T> {
    /// A view of `buffer` without checking it: for [`emit`](Self::emit) into a fresh buffer.
    pub fn new_unchecked(buffer: T) -> Self {
        CalibrationRecord { buffer }
    }

    /// A view of `buffer` once every field holds: length, not erased, magic, version, CRC and
    /// finite coefficients, in that order.
    pub fn new_checked(buffer: T) -> Result<Self, RecordError> {
        let record = CalibrationRecord { buffer };
        record.check()?;
        Ok(record)
    }

    fn check(&self) -> Result<(), RecordError> {
        let bytes = self.buffer.as_ref();
        let Some(bytes) = bytes.get(..RECORD_LEN) else {
            return Err(RecordError::Truncated { len: bytes.len() });
        };
        if bytes.iter().all(|&b| b == 0xFF) {
            return Err(RecordError::Erased);
        }
        if bytes.get(field::MAGIC) != Some(MAGIC.as_slice()) {
            return Err(RecordError::BadMagic);
        }
        let version = self.version();
        if version != VERSION {
            return Err(RecordError::UnsupportedVersion { version });
        }
        let (stored, computed) = (self.crc(), crc32(&bytes[..field::CRC.start]));
        if stored != computed {
            return Err(RecordError::BadCrc { stored, computed });
        }
        if !self
            .calibration()
            .coefficients
            .iter()
            .all(|c| c.is_finite())
        {
            return Err(RecordError::NotFinite);
        }
        Ok(())
    }

    fn bytes<const N: usize>(&self, range: core::ops::Range<usize>) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(field) = self.buffer.as_ref().get(range) {
            out.iter_mut().zip(field).for_each(|(o, &b)| *o = b);
        }
        out
    }

    /// The format version.
    pub fn version(&self) -> u16 {
        u16::from_le_bytes(self.bytes(field::VERSION))
    }

    /// The CRC the record holds.
    pub fn crc(&self) -> u32 {
        u32::from_le_bytes(self.bytes(field::CRC))
    }

    /// The stored calibration.
    pub fn calibration(&self) -> Calibration {
        let raw: [u8; 24] = self.bytes(field::COEFFICIENTS);
        let mut coefficients = [0.0f32; 6];
        for (c, chunk) in coefficients.iter_mut().zip(raw.chunks_exact(4)) {
            *c = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Calibration { coefficients }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> CalibrationRecord<T> {
    /// Writes a whole record of `calibration` (magic, version, coefficients, CRC) into the
    /// buffer's first [`RECORD_LEN`] bytes; a shorter buffer gets nothing written.
    pub fn emit(&mut self, calibration: &Calibration) {
        let Some(bytes) = self.buffer.as_mut().get_mut(..RECORD_LEN) else {
            return;
        };
        bytes[field::MAGIC].copy_from_slice(&MAGIC);
        bytes[field::VERSION].copy_from_slice(&VERSION.to_le_bytes());
        bytes[field::RESERVED].copy_from_slice(&0u16.to_le_bytes());
        for (chunk, c) in bytes[field::COEFFICIENTS]
            .chunks_exact_mut(4)
            .zip(calibration.coefficients)
        {
            chunk.copy_from_slice(&c.to_le_bytes());
        }
        let crc = crc32(&bytes[..field::CRC.start]);
        bytes[field::CRC].copy_from_slice(&crc.to_le_bytes());
    }
}

/// The calibration stored in `bytes`, or why there is none (the board then uses its default).
pub fn load(bytes: &[u8]) -> Result<Calibration, RecordError> {
    CalibrationRecord::new_checked(bytes).map(|record| record.calibration())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FITTED: Calibration = Calibration {
        coefficients: [0.001, -0.0904, 350.8, 0.0669, -0.002, -17.5],
    };

    fn stored() -> [u8; RECORD_LEN] {
        let mut buffer = [0xFF; RECORD_LEN];
        CalibrationRecord::new_unchecked(&mut buffer[..]).emit(&FITTED);
        buffer
    }

    #[test]
    fn a_stored_calibration_loads_back_exactly() {
        assert_eq!(load(&stored()), Ok(FITTED));
        // A record at the start of a larger area (a flash sector) loads the same.
        let mut sector = [0xFF; 4096];
        sector[..RECORD_LEN].copy_from_slice(&stored());
        assert_eq!(load(&sector), Ok(FITTED));
        assert_eq!(&stored()[field::MAGIC], b"MNTC");
    }

    #[test]
    fn every_flipped_bit_is_refused() {
        let good = stored();
        for byte in 0..RECORD_LEN {
            for bit in 0..8 {
                let mut bad = good;
                bad[byte] ^= 1 << bit;
                assert!(load(&bad).is_err(), "byte {byte} bit {bit} went unnoticed");
            }
        }
    }

    #[test]
    fn erased_short_foreign_and_newer_records_are_refused_with_the_reason() {
        assert_eq!(load(&[0xFF; RECORD_LEN]), Err(RecordError::Erased));
        assert_eq!(
            load(&stored()[..RECORD_LEN - 1]),
            Err(RecordError::Truncated {
                len: RECORD_LEN - 1
            })
        );
        let mut foreign = stored();
        foreign[0] = b'X';
        assert_eq!(load(&foreign), Err(RecordError::BadMagic));
        let mut newer = stored();
        newer[field::VERSION].copy_from_slice(&2u16.to_le_bytes());
        assert_eq!(
            load(&newer),
            Err(RecordError::UnsupportedVersion { version: 2 })
        );
        let mut torn = stored();
        torn[field::COEFFICIENTS.start] ^= 0x40;
        assert!(matches!(load(&torn), Err(RecordError::BadCrc { .. })));
    }

    #[test]
    fn a_record_of_nan_coefficients_is_refused_even_with_a_valid_crc() {
        let mut buffer = [0u8; RECORD_LEN];
        let mut nan = FITTED;
        nan.coefficients[2] = f32::NAN;
        CalibrationRecord::new_unchecked(&mut buffer[..]).emit(&nan);
        assert_eq!(load(&buffer), Err(RecordError::NotFinite));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_only_a_whole_record_loads() {
        // xorshift64: arbitrary buffers of every length up to two records, some starting with
        // a valid record's head so the later checks are reached too.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let good = stored();
        for round in 0..20_000 {
            let len = (next() % (2 * RECORD_LEN as u64 + 1)) as usize;
            let mut buffer = [0u8; 2 * RECORD_LEN];
            buffer.iter_mut().for_each(|b| *b = next() as u8);
            let keep = round % (RECORD_LEN + 1);
            buffer[..keep].copy_from_slice(&good[..keep]);
            if let Ok(calibration) = load(&buffer[..len]) {
                // Only the valid record's bytes load (the random tail may complete it).
                assert_eq!(buffer.get(..RECORD_LEN), Some(&good[..]), "round {round}");
                assert!(len >= RECORD_LEN);
                assert_eq!(calibration, FITTED);
            }
        }
    }

    #[test]
    fn a_short_buffer_gets_nothing_written() {
        let mut short = [0xAAu8; RECORD_LEN - 1];
        CalibrationRecord::new_unchecked(&mut short[..]).emit(&FITTED);
        assert!(short.iter().all(|&b| b == 0xAA));
    }
}
