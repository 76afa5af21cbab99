//! The files every part of the project reads, read one way: MNIST's IDX files ([`idx`]: strict,
//! gzip or raw, checked against the published checksums, an error per kind of damage) and the
//! golden vectors ([`golden`]: 64 test digits with the reference model's outputs, which the
//! no_std runtime, the firmware and its QEMU check reproduce). A std crate of its own so that the
//! trainer, the cross-checks, runtime-nostd's tests and the firmware's host tests and build
//! scripts all share it without depending on burn.

pub mod golden;
pub mod idx;

pub use golden::{GOLDEN_STAGE, Golden, GoldenError};
pub use idx::{CLASSES, Checksum, DataError, FileKind, IMAGE_PIXELS, IMAGE_SIDE, Mnist, Split};
