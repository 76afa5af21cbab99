//! no_std, no-alloc inference engine for the mnist-edge flat weight format.
//!
//! The format and kernels arrive with the runtime issue; this crate exists now so the
//! workspace layout (a small no_std core, std tooling around it) is fixed from the start.
#![no_std]
