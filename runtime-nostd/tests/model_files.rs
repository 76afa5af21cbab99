//! The parser against real and broken files: every shipped model parses with its documented
//! scratch size, each kind of damage gets its own error, and no truncation or mutation of a
//! valid file makes the parser or the inference panic.

use std::path::{Path, PathBuf};

use runtime_nostd::format::{Activation, LayerKind, Shape, Variant};
use runtime_nostd::write::{LayerSpec, NO_QUANTIZATION, f32_bytes, write_model};
use runtime_nostd::{InferError, Model, ParseError, shipped};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn read(name: &str) -> Vec<u8> {
    let path = models().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `cargo run -p trainer --release -- export`",
            path.display()
        )
    })
}

/// A tiny valid f32 model: 1x2x2 input, flatten, dense 4 -> 3.
fn tiny() -> Vec<u8> {
    let input = Shape {
        channels: 1,
        height: 2,
        width: 2,
    };
    let dense = LayerSpec {
        kind: LayerKind::Dense,
        activation: Activation::Identity,
        kernel: 0,
        stride: 0,
        pad: 0,
        input: Shape {
            channels: 4,
            height: 1,
            width: 1,
        },
        output_channels: 3,
        weights: f32_bytes(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
        bias: f32_bytes(&[0.0, 0.0, 0.5]),
        requant: vec![],
        lut: vec![],
        input_quant: NO_QUANTIZATION,
        output_quant: NO_QUANTIZATION,
    };
    let layers = [LayerSpec::flatten(input, NO_QUANTIZATION), dense];
    write_model(Variant::F32, input, 3, &[("stage", "tiny".into())], &layers).unwrap()
}

/// Rewrites the CRC so a deliberate change reaches the checks behind it.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let crc = runtime_nostd::crc32::crc32(&bytes[16..]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    bytes
}

#[test]
fn tiny_model_infers_what_its_weights_say() {
    let bytes = tiny();
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(model.metadata_value("stage"), Some("tiny"));
    let mut scratch = vec![0u32; model.scratch_bytes() / 4];
    let mut p = [0.0f32; 3];
    // Pixels 0, 0, 128, 128 -> inputs 0, 0, 0.5, 0.5 -> logits 0, 0, 1.5.
    let class = model
        .infer(
            &[0, 0, 128, 128],
            bytemuck::cast_slice_mut(&mut scratch),
            &mut p,
        )
        .unwrap();
    assert_eq!(class, 2);
    let e = 1.5f32.exp();
    assert!((p[2] - e / (2.0 + e)).abs() < 1e-6, "{p:?}");
}

#[test]
fn each_kind_of_damage_has_its_own_error() {
    let good = tiny();
    let parse = |b: &[u8]| Model::parse(b).map(|_| ()).unwrap_err();
    assert!(matches!(
        parse(&good[..10]),
        ParseError::TooShort {
            len: 10,
            needed: 32
        }
    ));
    let mut b = good.clone();
    b[0] = b'X';
    assert_eq!(parse(&b), ParseError::BadMagic);
    let mut b = good.clone();
    b[4] = 2;
    assert_eq!(parse(&b), ParseError::UnsupportedVersion(2));
    let mut b = good.clone();
    b[6] = 9;
    assert_eq!(parse(&b), ParseError::UnknownVariant(9));
    let mut b = good.clone();
    b[7] = 0;
    assert_eq!(parse(&b), ParseError::BadLayerCount(0));
    assert!(matches!(
        parse(&good[..good.len() - 16]),
        ParseError::LengthMismatch { .. }
    ));
    let mut b = good.clone();
    let last = b.len() - 20;
    b[last] ^= 1;
    assert!(matches!(parse(&b), ParseError::CrcMismatch { .. }));
    // Past the CRC: field-level checks.
    let layer1 = 32 + 64;
    let mut b = good.clone();
    b[layer1] = 7;
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::UnknownLayerKind { layer: 1, kind: 7 }
    );
    let mut b = good.clone();
    b[layer1 + 1] = 9;
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::UnknownActivation {
            layer: 1,
            activation: 9
        }
    );
    let mut b = good.clone();
    b[layer1 + 8] = 5; // dense declares 5 inputs, flatten gives 4
    assert!(matches!(
        parse(&with_crc(b)),
        ParseError::ShapeMismatch { layer: 1, .. }
    ));
    let mut b = good.clone();
    b[layer1 + 20] = 44; // weights length 48 -> 44
    assert!(matches!(
        parse(&with_crc(b)),
        ParseError::BadSection { layer: Some(1), .. }
    ));
    let mut b = good.clone();
    b[layer1 + 16] += 4; // weights offset no longer 16-aligned
    assert!(matches!(
        parse(&with_crc(b)),
        ParseError::BadSection { layer: Some(1), .. }
    ));
    let mut b = good.clone();
    b[22] = 4; // 4 classes, the last layer gives 3
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::BadOutput {
            values: 3,
            classes: 4
        }
    );
}

#[test]
fn inference_checks_its_buffers() {
    let bytes = tiny();
    let model = Model::parse(&bytes).unwrap();
    let mut scratch = vec![0u32; 64];
    let s = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    let mut p = [0.0f32; 3];
    assert_eq!(
        model.infer(&[0; 3], s, &mut p),
        Err(InferError::InputSize {
            given: 3,
            expected: 4
        })
    );
    assert_eq!(
        model.infer(&[0; 4], s, &mut [0.0; 2]),
        Err(InferError::OutputSize {
            given: 2,
            expected: 3
        })
    );
    let needed = model.scratch_bytes();
    assert_eq!(
        model.infer(&[0; 4], &mut s[..needed - 1], &mut p),
        Err(InferError::ScratchTooSmall {
            given: needed - 1,
            needed
        })
    );
    assert_eq!(
        model.infer(&[0; 4], &mut s[1..needed + 1], &mut p),
        Err(InferError::ScratchMisaligned)
    );
}

#[test]
fn shipped_models_parse_with_their_documented_scratch_sizes() {
    for (stage, f32_scratch, i8_scratch) in shipped::SCRATCH_BYTES {
        for (variant, expected) in [("f32", f32_scratch), ("i8", i8_scratch)] {
            let bytes = read(&format!("{stage}.{variant}.mnef"));
            let model = Model::parse(&bytes).unwrap_or_else(|e| panic!("{stage} {variant}: {e:?}"));
            assert_eq!(model.scratch_bytes(), expected, "{stage} {variant}");
            assert_eq!(model.metadata_value("stage"), Some(stage));
        }
    }
}

#[test]
fn f32_cnn_bn_reproduces_the_golden_vectors() {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/cnn-bn.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let bytes = read("cnn-bn.f32.mnef");
    let model = Model::parse(&bytes).unwrap();
    let mut scratch = runtime_nostd::Scratch::<{ shipped::CNN_BN_F32_SCRATCH_BYTES }>::new();
    for (pixels, expected) in golden["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(golden["probabilities"].as_array().unwrap())
    {
        let image: Vec<u8> = pixels
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let mut p = [0.0f32; 10];
        model.infer(&image, scratch.as_mut_bytes(), &mut p).unwrap();
        for (got, want) in p.iter().zip(expected.as_array().unwrap()) {
            assert!((f64::from(*got) - want.as_f64().unwrap()).abs() <= 1e-4);
        }
    }
}

/// xorshift: deterministic pseudo-random bytes without a dependency.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

fn parse_and_run(bytes: &[u8]) {
    if let Ok(model) = Model::parse(bytes) {
        let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
        let mut p = vec![0.0f32; model.classes()];
        let image = vec![200u8; model.input_shape().len()];
        let _ = model.infer(&image, bytemuck::cast_slice_mut(&mut scratch), &mut p);
    }
}

#[test]
fn truncations_and_mutations_never_panic() {
    for name in ["dense1.i8.mnef", "dense1.f32.mnef", "dense-sigmoid.i8.mnef"] {
        let good = read(name);
        for len in 0..good.len() {
            assert!(
                Model::parse(&good[..len]).is_err(),
                "{name} truncated to {len} parsed"
            );
        }
        let mut next = rng(len_seed(name));
        for _ in 0..3000 {
            let mut b = good.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % b.len() as u64) as usize;
                b[at] = next() as u8;
            }
            // Half the time, fix the CRC so the mutation reaches the deeper checks and the kernels.
            let b = if next().is_multiple_of(2) {
                with_crc(b)
            } else {
                b
            };
            parse_and_run(&b);
        }
    }
}

fn len_seed(name: &str) -> u64 {
    name.bytes().fold(0x9E37_79B9_7F4A_7C15, |h, b| {
        h.rotate_left(5) ^ u64::from(b)
    })
}

#[test]
fn int8_quantization_must_chain() {
    let bytes = read("dense1.i8.mnef");
    // Layer 1 (dense) input scale at record offset 40: change it so it no longer matches.
    let mut b = bytes.clone();
    let at = 32 + 64 + 40;
    let scale = f32::from_le_bytes(b[at..at + 4].try_into().unwrap()) * 2.0;
    b[at..at + 4].copy_from_slice(&scale.to_le_bytes());
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::QuantizationMismatch { layer: 1 })
    );
}
