//! Any byte string: parsing must return `Ok` or an error, never panic; a model that parses must
//! also run inference without panicking. Each input is tried as it is and with its CRC field
//! recomputed, so mutations reach the checks behind the checksum and the kernels.
//!
//! `scripts/fuzz.sh SECONDS` runs it, seeded with the committed models (dense and conv, f32
//! and int8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_nostd::Model;
use runtime_nostd::format::{HEADER_LEN, HeaderView, file_crc};

fn parse_and_run(data: &[u8]) {
    let Ok(model) = Model::parse(data) else {
        return;
    };
    // Scratch grows with the file (patch and activations are bounded by its payload sizes);
    // skip only what would not fit a fuzzing process.
    if model.scratch_bytes() > 64 << 20 {
        return;
    }
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4) + 1];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    let mut probabilities = [0.0f32; 16];
    let classes = model.classes().min(16);
    let image = [173u8; 4096];
    let pixels = model.input_shape().len().min(image.len());
    let _ = model.infer(&image[..pixels], scratch, &mut probabilities[..classes]);
}

fuzz_target!(|data: &[u8]| {
    parse_and_run(data);
    if data.len() >= HEADER_LEN {
        let mut fixed = data.to_vec();
        let crc = file_crc(&fixed);
        HeaderView::new_unchecked(&mut fixed[..]).set_crc(crc);
        parse_and_run(&fixed);
    }
});
