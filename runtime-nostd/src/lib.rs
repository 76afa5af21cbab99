//! no_std, no-alloc inference for the mnist-edge flat weight format (`FORMAT.md`).
//!
//! [`Model::parse`] validates a model file borrowed from flash or RAM (every field, size, offset,
//! shape chain and the CRC-32) and [`Model::infer`] runs it with a caller-provided scratch buffer
//! of exactly [`Model::scratch_bytes`]. Nothing here allocates or panics on any input; errors
//! are the precise enums in [`error`], with `Display`, `core::error::Error` and, with the
//! `defmt` feature, `defmt::Format`. The writer ([`write`](mod@write), feature `alloc`) sets the
//! fields through the views the reader gets them with, and checks layers with the reader's
//! rules.
//!
//! ```no_run
//! # let bytes: &[u8] = &[];
//! # let image = [0u8; 784];
//! let model = runtime_nostd::Model::parse(bytes)?;
//! let mut scratch = runtime_nostd::Scratch::<80_000>::new();
//! let mut probabilities = [0.0f32; 10];
//! let digit = model.infer(&image, scratch.as_mut_bytes(), &mut probabilities).unwrap();
//! # Ok::<(), runtime_nostd::ParseError>(())
//! ```
#![no_std]
// Unsafe code is denied everywhere but the two arch modules of inline assembly, `kernels::arm_dsp`
// (feature `arm-dsp`) and `kernels::arm_v6m` (feature `arm-v6m`), which allow it for their
// SAFETY-commented blocks.
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod crc32;
pub mod error;
pub mod format;
pub mod kernels;
mod model;
pub mod parallel;
#[cfg(feature = "alloc")]
pub mod write;

pub use error::{InferError, LayerFault, ParseError, SectionFault};
pub use format::Variant;
pub use model::{Model, Scratch};
pub use parallel::{Parallel, Serial};
