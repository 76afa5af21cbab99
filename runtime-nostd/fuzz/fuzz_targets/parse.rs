//! Any byte string: parsing must return `Ok` or an error, never panic; a model that parses must
//! also run inference without panicking, and give the same results split over two cores
//! (`Model::infer_parallel`). Each input is tried as it is and with its CRC field
//! recomputed, so mutations reach the checks behind the checksum and the kernels.
//!
//! `scripts/fuzz.sh SECONDS` runs it, seeded with the committed models (dense and conv, f32
//! and int8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_nostd::format::{HEADER_LEN, HeaderView, file_crc};
use runtime_nostd::{Model, Serial};

/// The most bytes of scratch, input or output a case may take: beyond, the model parsed but
/// would not fit a fuzzing process (never so for the seeds or their near mutations).
const MAX_BUFFER: usize = 64 << 20;

fn parse_and_run(data: &[u8]) {
    let Ok(model) = Model::parse(data) else {
        return;
    };
    let (pixels, classes) = (model.input_shape().len(), model.classes());
    if model.scratch_bytes() > MAX_BUFFER || pixels > MAX_BUFFER || classes > MAX_BUFFER / 4 {
        return;
    }
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4) + 1];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    // An image of the model's own input size, from the input's bytes (so that mutations vary
    // the activations too), and an output of its own class count: every model that parses runs.
    let image: Vec<u8> = data.iter().copied().cycle().take(pixels).collect();
    let mut probabilities = vec![0.0f32; classes];
    let whole = model.infer(&image, scratch, &mut probabilities);
    // Split over two cores (here one, `Serial`): the same answer and probabilities, bit for bit.
    let mut helper = vec![0u8; model.helper_scratch_bytes()];
    let mut split = vec![0.0f32; classes];
    let halves = model.infer_parallel(&image, scratch, &mut helper, &mut split, &mut Serial);
    assert_eq!(whole, halves);
    let bits = |p: &[f32]| p.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&probabilities), bits(&split));
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
