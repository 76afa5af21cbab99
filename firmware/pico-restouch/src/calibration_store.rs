//! The touch calibration kept across resets and power cycles: one record
//! (`app::calibration_record`: magic, version, coefficients, CRC) at the start of the flash
//! chip's last 4 KB sector, which the memory layouts (`memory-rp2040.x`, `memory-rp2350.x`) keep
//! out of the program's region, so neither the linker nor a UF2 file ever puts anything there.
//! Read at every power-up, written once per calibration: an erase and one 256-byte page.

use core::fmt;

use app::calibration_record::{self, CalibrationRecord, RecordError};
use app::controller::CalibrationStorage;
use app::touch::Calibration;
use embassy_rp::Peri;
use embassy_rp::flash::{self, Blocking, ERASE_SIZE, Flash, PAGE_SIZE};
use embassy_rp::peripherals::FLASH;

/// The flash chip's size: the Pico's W25Q16JV holds 2 MB.
#[cfg(feature = "rp2040")]
pub const FLASH_BYTES: usize = 2 * 1024 * 1024;
/// The flash chip's size: the Pico 2's W25Q32RV holds 4 MB.
#[cfg(feature = "rp2350")]
pub const FLASH_BYTES: usize = 4 * 1024 * 1024;

/// Where the record lives, in bytes from the start of flash: the last sector.
pub const SECTOR_OFFSET: u32 = (FLASH_BYTES - ERASE_SIZE) as u32;

/// Why a calibration could not be read from or kept in flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum StoreError {
    /// The flash driver refused the access.
    Flash(flash::Error),
    /// The sector holds no valid record.
    Record(RecordError),
    /// What was written does not read back as a valid record: a worn or protected flash.
    ReadBack(RecordError),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Flash(e) => f.write_str(match e {
                flash::Error::OutOfBounds => "flash access out of the chip's bounds",
                flash::Error::Unaligned => "flash access not aligned to its units",
                flash::Error::InvalidCore => "flash written from core 1",
                flash::Error::Other => "the flash driver failed",
            }),
            StoreError::Record(e) => write!(f, "{e}"),
            StoreError::ReadBack(e) => write!(f, "it does not read back: {e}"),
        }
    }
}

/// The last sector of the board's flash, through embassy-rp's blocking driver (which runs the
/// boot ROM's erase and program routines from RAM with interrupts off).
pub struct CalibrationStore {
    flash: Flash<'static, FLASH, Blocking, FLASH_BYTES>,
}

impl CalibrationStore {
    pub fn new(flash: Peri<'static, FLASH>) -> Self {
        CalibrationStore {
            flash: Flash::new_blocking(flash),
        }
    }

    /// The stored calibration, or why there is none to use.
    pub fn load(&mut self) -> Result<Calibration, StoreError> {
        let mut bytes = [0u8; calibration_record::RECORD_LEN];
        self.flash
            .blocking_read(SECTOR_OFFSET, &mut bytes)
            .map_err(StoreError::Flash)?;
        calibration_record::load(&bytes).map_err(StoreError::Record)
    }

    /// Replaces the stored calibration with `calibration` and reads it back.
    pub fn save(&mut self, calibration: &Calibration) -> Result<(), StoreError> {
        // The rest of the page stays erased.
        let mut page = [0xFF; PAGE_SIZE];
        CalibrationRecord::new_unchecked(&mut page[..]).emit(calibration);
        self.flash
            .blocking_erase(SECTOR_OFFSET, SECTOR_OFFSET + ERASE_SIZE as u32)
            .map_err(StoreError::Flash)?;
        self.flash
            .blocking_write(SECTOR_OFFSET, &page)
            .map_err(StoreError::Flash)?;
        match self.load() {
            Ok(_) => Ok(()),
            Err(StoreError::Record(e)) => Err(StoreError::ReadBack(e)),
            Err(e) => Err(e),
        }
    }
}

impl CalibrationStorage for CalibrationStore {
    type Error = StoreError;

    fn load(&mut self) -> Result<Option<Calibration>, StoreError> {
        match CalibrationStore::load(self) {
            Ok(stored) => Ok(Some(stored)),
            Err(StoreError::Record(RecordError::Erased)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn save(&mut self, calibration: &Calibration) -> Result<(), StoreError> {
        CalibrationStore::save(self, calibration)
    }

    fn flash_offset(&self) -> u32 {
        SECTOR_OFFSET
    }
}
