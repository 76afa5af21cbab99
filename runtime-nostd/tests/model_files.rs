//! The parser against real and broken files: every committed model parses, names its stage and
//! variant as its file name does and runs in exactly its scratch size, each kind of damage gets
//! its own error, and no truncation or mutation of a valid file makes the parser or the inference
//! panic.

use std::path::{Path, PathBuf};

use mnist_files::{GOLDEN_STAGE, Golden};
use runtime_nostd::format::{
    self, Activation, ConvGeometry, HeaderView, Layer, LayerKind, LayerView, NO_QUANTIZATION,
    Payload, PayloadSection, Shape, Variant,
};
use runtime_nostd::format::{header::field as header, layer_record::field as layer_record};
use runtime_nostd::write::{LayerSpec, WriteError, f32_bytes, write_model};
use runtime_nostd::{InferError, LayerFault, Model, ParseError, SectionFault};

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

/// The dense layer of [`tiny`]: 4 -> 3.
fn tiny_dense() -> LayerSpec {
    Layer {
        kind: LayerKind::Dense,
        activation: Activation::Identity,
        geometry: ConvGeometry::NONE,
        input: Shape::vector(4),
        output: Shape::vector(3),
        payload: Payload {
            weights: f32_bytes(&[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]),
            bias: f32_bytes(&[0.0, 0.0, 0.5]),
            ..Payload::default()
        },
        input_quant: NO_QUANTIZATION,
        output_quant: NO_QUANTIZATION,
    }
}

const TINY_INPUT: Shape = Shape {
    channels: 1,
    height: 2,
    width: 2,
};

/// A tiny valid f32 model: 1x2x2 input, flatten, dense 4 -> 3.
fn tiny() -> Vec<u8> {
    let layers = [
        LayerSpec::flatten(TINY_INPUT, NO_QUANTIZATION),
        tiny_dense(),
    ];
    write_model(
        Variant::F32,
        TINY_INPUT,
        3,
        &[("stage", "tiny".into())],
        &layers,
    )
    .unwrap()
}

/// Rewrites the CRC so a deliberate change reaches the checks behind it.
fn with_crc(mut bytes: Vec<u8>) -> Vec<u8> {
    let crc = format::file_crc(&bytes);
    HeaderView::new_unchecked(&mut bytes[..]).set_crc(crc);
    bytes
}

/// Where layer `index`'s record starts.
fn record_at(index: usize) -> usize {
    format::HEADER_LEN + index * format::LAYER_RECORD_LEN
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
    let header_byte = |field: format::Field| field.start;
    assert!(matches!(
        parse(&good[..10]),
        ParseError::TooShort {
            len: 10,
            needed: 32
        }
    ));
    let mut b = good.clone();
    b[header::MAGIC.start] = b'X';
    assert_eq!(parse(&b), ParseError::BadMagic);
    let mut b = good.clone();
    b[header_byte(header::VERSION)] = 2;
    assert_eq!(parse(&b), ParseError::UnsupportedVersion(2));
    let mut b = good.clone();
    b[header::VARIANT] = 9;
    assert_eq!(parse(&b), ParseError::UnknownVariant(9));
    let mut b = good.clone();
    b[header::LAYER_COUNT] = 0;
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
    let dense = record_at(1);
    let mut b = good.clone();
    b[dense + layer_record::KIND] = 7;
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::UnknownLayerKind { layer: 1, kind: 7 }
    );
    let mut b = good.clone();
    b[dense + layer_record::ACTIVATION] = 9;
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::UnknownActivation {
            layer: 1,
            activation: 9
        }
    );
    let mut b = good.clone();
    b[dense + layer_record::INPUT_CHANNELS.start] = 5; // dense declares 5 inputs, flatten gives 4
    assert!(matches!(
        parse(&with_crc(b)),
        ParseError::ShapeMismatch { layer: 1, .. }
    ));
    let weights = dense + PayloadSection::Weights.field().start;
    let mut b = good.clone();
    b[weights + 4] = 44; // weights length 48 -> 44
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::BadLayer {
            layer: 1,
            fault: LayerFault::PayloadSize {
                section: PayloadSection::Weights,
                expected: 48,
                found: 44
            }
        }
    );
    let mut b = good.clone();
    b[weights] += 4; // weights offset no longer 16-aligned
    assert!(matches!(
        parse(&with_crc(b)),
        ParseError::BadSection {
            layer: 1,
            section: PayloadSection::Weights,
            fault: SectionFault::Misaligned,
            ..
        }
    ));
    let mut b = good.clone();
    b[header::CLASSES.start] = 4; // 4 classes, the last layer gives 3
    assert_eq!(
        parse(&with_crc(b)),
        ParseError::BadOutput {
            values: 3,
            classes: 4
        }
    );
    // Every error reads as a sentence that names what is wrong.
    let message = parse(&good[..10]).to_string();
    assert_eq!(message, "truncated: 10 bytes, the model needs at least 32");
}

#[test]
fn reserved_bytes_and_the_length_rule_are_checked() {
    let good = tiny();
    let mut b = good.clone();
    b[record_at(1) + layer_record::RESERVED.start] = 1;
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::BadLayer {
            layer: 1,
            fault: LayerFault::ReservedNotZero
        })
    );
    // Eight trailing bytes, declared in the header and covered by the CRC.
    let mut b = good.clone();
    b.extend_from_slice(&[0; 8]);
    let len = u32::try_from(b.len()).unwrap();
    HeaderView::new_unchecked(&mut b[..]).set_file_len(len);
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::LengthNotAligned {
            len: good.len() + 8
        })
    );
    // A dense layer with a kernel.
    let mut b = good.clone();
    b[record_at(1) + layer_record::KERNEL] = 3;
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::BadLayer {
            layer: 1,
            fault: LayerFault::GeometryOnNonConv
        })
    );
}

#[test]
fn the_writer_refuses_what_the_parser_would() {
    let write =
        |layers: &[LayerSpec]| write_model(Variant::F32, TINY_INPUT, 3, &[], layers).map(|_| ());
    let flatten = LayerSpec::flatten(TINY_INPUT, NO_QUANTIZATION);
    let mut short = tiny_dense();
    short.payload.weights.truncate(44);
    assert_eq!(
        write(&[flatten.clone(), short]),
        Err(WriteError::Layer {
            layer: 1,
            fault: LayerFault::PayloadSize {
                section: PayloadSection::Weights,
                expected: 48,
                found: 44
            }
        })
    );
    let mut wide = tiny_dense();
    wide.output = Shape::vector(3);
    wide.input = Shape::vector(5);
    assert!(matches!(
        write(&[flatten.clone(), wide]),
        Err(WriteError::Layer { layer: 1, .. })
    ));
    // Layers fine on their own that do not chain: the parser's error, at export.
    assert!(matches!(
        write(&[tiny_dense()]),
        Err(WriteError::Model(ParseError::ShapeMismatch {
            layer: 0,
            ..
        }))
    ));
    assert_eq!(write(&[]), Err(WriteError::LayerCount(0)));
    let message = write(&[flatten, {
        let mut d = tiny_dense();
        d.payload.bias.clear();
        d
    }])
    .unwrap_err()
    .to_string();
    assert_eq!(
        message,
        "layer 1: its biases are 0 bytes, the format requires 12"
    );
}

/// A conv whose input shape multiplies past 2^32 (4097 x 1024 x 1024), which a 32-bit `usize`
/// would wrap to exactly 2^20 values, within the format's limit; an 8x8 stride-8 kernel makes
/// 128 x 128 = 16,384 classes of it, so without checked sizes it parses on a 32-bit target. It
/// must be refused on every target. Written by hand through the views (the writer refuses it).
#[test]
fn shapes_past_the_address_space_are_refused_on_every_target() {
    let input = (4097u16, 1024u16, 1024u16);
    let weights_len = 8 * 8 * 4097 * 4;
    let mut file = vec![0u8; record_at(1)];
    let payload_at = file.len().next_multiple_of(16);
    file.resize(payload_at + weights_len + 16, 0);
    let mut h = HeaderView::new_unchecked(&mut file[..]);
    h.set_magic(format::MAGIC);
    h.set_version(format::VERSION);
    h.set_variant(Variant::F32);
    h.set_layer_count(1);
    h.set_input(input.0, input.1, input.2);
    h.set_classes(128 * 128);
    let mut r = LayerView::new_unchecked(&mut file[record_at(0)..record_at(1)]);
    r.set_kind(LayerKind::Conv2d);
    r.set_activation(Activation::Identity);
    r.set_geometry(8, 8, 0);
    r.set_input(input.0, input.1, input.2);
    r.set_output_channels(1);
    r.set_section(
        PayloadSection::Weights,
        payload_at as u32,
        weights_len as u32,
    );
    r.set_section(PayloadSection::Bias, (payload_at + weights_len) as u32, 4);
    let len = u32::try_from(file.len().next_multiple_of(16)).unwrap();
    file.resize(len as usize, 0);
    HeaderView::new_unchecked(&mut file[..]).set_file_len(len);
    let file = with_crc(file);
    assert!(
        matches!(
            Model::parse(&file),
            Err(ParseError::BadInputShape | ParseError::BadLayer { .. })
        ),
        "{:?}",
        Model::parse(&file).map(|m| m.scratch_bytes())
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

/// Every committed `<stage>.<variant>.mnef`.
fn committed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(models())
        .unwrap_or_else(|e| panic!("{}: {e}", models().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mnef"))
        .collect();
    files.sort();
    files
}

#[test]
fn committed_models_parse_say_what_they_are_and_run_in_their_scratch_size() {
    let files = committed_files();
    assert!(
        files.len() >= 2,
        "no models in {}; run `cargo run -p trainer --release -- export`",
        models().display()
    );
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let model = Model::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (stage, variant) = name
            .strip_suffix(".mnef")
            .and_then(|n| n.rsplit_once('.'))
            .unwrap_or_else(|| panic!("{name}: not <stage>.<variant>.mnef"));
        assert_eq!(model.metadata_value("stage"), Some(stage), "{name}");
        assert_eq!(model.variant().name(), variant, "{name}");
        assert_eq!(Variant::from_name(variant), Some(model.variant()), "{name}");
        let needed = model.scratch_bytes();
        let mut scratch = vec![0u32; needed.div_ceil(4) + 1];
        let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
        let image = vec![128u8; model.input_shape().len()];
        let mut p = vec![0.0f32; model.classes()];
        assert!(
            model.infer(&image, &mut scratch[..needed], &mut p).is_ok(),
            "{name}"
        );
        assert_eq!(
            model.infer(&image, &mut scratch[..needed - 1], &mut p),
            Err(InferError::ScratchTooSmall {
                given: needed - 1,
                needed
            }),
            "{name}"
        );
    }
}

#[test]
fn f32_cnn_bn_reproduces_the_golden_vectors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let golden = Golden::read(&Golden::path(&root, GOLDEN_STAGE)).unwrap_or_else(|e| panic!("{e}"));
    let bytes = read(&format!("{GOLDEN_STAGE}.f32.mnef"));
    let model = Model::parse(&bytes).unwrap();
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    for (image, expected) in golden.pixels.iter().zip(&golden.probabilities) {
        let mut p = [0.0f32; 10];
        model.infer(image, scratch, &mut p).unwrap();
        for (got, want) in p.iter().zip(expected) {
            assert!((got - want).abs() <= 1e-4);
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

/// Truncation lengths to try: all of a small file; for a large one every header and record
/// boundary, the section starts, and a stride through the rest (each parse checks the CRC of
/// what is left, so all lengths of a 357 KB file would take minutes).
fn truncations(file: &[u8]) -> Vec<usize> {
    if file.len() <= 8192 {
        return (0..file.len()).collect();
    }
    let mut lengths: Vec<usize> = (0..record_at(format::MAX_LAYERS) + 1).collect();
    if let Ok(model) = Model::parse(file) {
        for layer in model.layers() {
            for section in PayloadSection::ALL {
                let s = layer.payload.get(section);
                lengths.extend([s.offset, s.offset + 1, s.offset + s.len.saturating_sub(1)]);
            }
        }
    }
    lengths.extend((0..file.len()).step_by(4099));
    lengths.retain(|&l| l < file.len());
    lengths
}

/// Mutations per file in the fuzz-like test of committed models: dense and conv models in both
/// variants; the conv files cost a full inference per surviving mutation, so they get fewer.
const MUTATED: [(&str, usize); 5] = [
    ("dense1.i8.mnef", 3000),
    ("dense1.f32.mnef", 3000),
    ("dense-sigmoid.i8.mnef", 3000),
    ("cnn-bn.i8.mnef", 300),
    ("cnn-bn.f32.mnef", 100),
];
/// Mutations of a committed file added to cover a layer kind that [`MUTATED`] lacks.
const MUTATIONS_OF_A_NEW_KIND: usize = 100;

/// The layer kinds, by variant, that `bytes` holds.
fn kinds_of(bytes: &[u8]) -> Vec<(Variant, LayerKind)> {
    let model = Model::parse(bytes).unwrap_or_else(|e| panic!("{e}"));
    model.layers().map(|l| (model.variant(), l.kind)).collect()
}

/// [`MUTATED`], and for every layer kind and variant it lacks the first committed file that has
/// it: a new kind is mutated as soon as a committed stage uses it.
fn mutated_files() -> Vec<(String, usize)> {
    let mut files: Vec<(String, usize)> = MUTATED
        .iter()
        .map(|&(name, mutations)| (name.to_string(), mutations))
        .collect();
    let mut covered: Vec<(Variant, LayerKind)> = MUTATED
        .iter()
        .flat_map(|(name, _)| kinds_of(&read(name)))
        .collect();
    for path in committed_files() {
        let kinds = kinds_of(&std::fs::read(&path).unwrap());
        if kinds.iter().any(|kind| !covered.contains(kind)) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, MUTATIONS_OF_A_NEW_KIND));
            covered.extend(kinds);
        }
    }
    files
}

#[test]
fn truncations_and_mutations_never_panic() {
    for (name, mutations) in mutated_files() {
        let name = name.as_str();
        let good = read(name);
        for len in truncations(&good) {
            assert!(
                Model::parse(&good[..len]).is_err(),
                "{name} truncated to {len} parsed"
            );
        }
        let mut next = rng(len_seed(name));
        for _ in 0..mutations {
            let mut b = good.clone();
            for _ in 0..1 + next() % 4 {
                // Mostly the header and records, where a byte changes the most.
                let span = if next().is_multiple_of(2) {
                    record_at(format::MAX_LAYERS).min(b.len())
                } else {
                    b.len()
                };
                let at = (next() % span as u64) as usize;
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
fn int8_quantization_must_chain_from_the_formats_input() {
    let bytes = read("dense1.i8.mnef");
    let quant_at = |layer| record_at(layer) + layer_record::INPUT_QUANT.start;
    // Layer 1 (dense): its input scale no longer matches the flatten's output.
    let mut b = bytes.clone();
    let at = quant_at(1);
    let scale = f32::from_le_bytes(b[at..at + 4].try_into().unwrap()) * 2.0;
    b[at..at + 4].copy_from_slice(&scale.to_le_bytes());
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::QuantizationMismatch { layer: 1 })
    );
    // The first layer with a crafted input quantisation (a scale that makes pixel codes
    // overflow an i32, zero point 127): refused, so inference never computes it.
    let mut b = bytes.clone();
    for layer in [0, 1] {
        let mut record = LayerView::new_unchecked(&mut b[record_at(layer)..record_at(layer + 1)]);
        let crafted = format::Quantization {
            scale: 1e-30,
            zero_point: 127,
        };
        record.set_input_quant(crafted);
        if layer == 0 {
            record.set_output_quant(crafted);
        }
    }
    assert_eq!(
        Model::parse(&with_crc(b)).map(|_| ()),
        Err(ParseError::InputQuantization)
    );
}
