//! Scratch sizes of the models shipped in `models/`, so firmware can size static buffers at
//! compile time. `tests/model_files.rs` parses every shipped file and checks these numbers.

/// cnn, cnn-dropout and cnn-bn, int8: two 28x28x12 activations, one 6x6x24 patch, and the
/// widened lanes of four such patches (2 bytes per value) plus 3 bytes to align them.
pub const CNN_I8_SCRATCH_BYTES: usize = 26_595;
/// cnn, cnn-dropout and cnn-bn, f32.
pub const CNN_F32_SCRATCH_BYTES: usize = 78_720;
/// The dense stages, int8: two 784-value activations, and the 784 inputs widened (2 bytes each)
/// plus 3 bytes to align them.
pub const DENSE_I8_SCRATCH_BYTES: usize = 3_139;
/// The dense stages, f32.
pub const DENSE_F32_SCRATCH_BYTES: usize = 6_272;
/// The firmware's model, cnn-bn int8.
pub const CNN_BN_I8_SCRATCH_BYTES: usize = CNN_I8_SCRATCH_BYTES;
/// cnn-bn f32.
pub const CNN_BN_F32_SCRATCH_BYTES: usize = CNN_F32_SCRATCH_BYTES;

/// (stage, f32 scratch bytes, int8 scratch bytes) for every shipped stage.
pub const SCRATCH_BYTES: [(&str, usize, usize); 9] = [
    ("dense1", DENSE_F32_SCRATCH_BYTES, DENSE_I8_SCRATCH_BYTES),
    (
        "dense-sigmoid",
        DENSE_F32_SCRATCH_BYTES,
        DENSE_I8_SCRATCH_BYTES,
    ),
    (
        "dense-relu-adam",
        DENSE_F32_SCRATCH_BYTES,
        DENSE_I8_SCRATCH_BYTES,
    ),
    (
        "dense-lr-decay",
        DENSE_F32_SCRATCH_BYTES,
        DENSE_I8_SCRATCH_BYTES,
    ),
    (
        "dense-deep",
        DENSE_F32_SCRATCH_BYTES,
        DENSE_I8_SCRATCH_BYTES,
    ),
    (
        "dense-dropout",
        DENSE_F32_SCRATCH_BYTES,
        DENSE_I8_SCRATCH_BYTES,
    ),
    ("cnn", CNN_F32_SCRATCH_BYTES, CNN_I8_SCRATCH_BYTES),
    ("cnn-dropout", CNN_F32_SCRATCH_BYTES, CNN_I8_SCRATCH_BYTES),
    ("cnn-bn", CNN_F32_SCRATCH_BYTES, CNN_I8_SCRATCH_BYTES),
];
