//! Runs all 10,000 MNIST test digits through every stage's f32 and int8 flat models and
//! compares them with the reference (the trainer's burn model, which the ONNX cross-checks tie
//! to tract and ONNX Runtime).
//!
//! `cargo run -p cross-check --release --bin flat_check [-- --json] [--stage a,b] [--models DIR]`
//! (`cargo run -p runtime-nostd --example host_check` is the quick check of the committed files
//! with nothing but the runtime.)
//!
//! Exits non-zero when a threshold fails: f32 must match the reference to 1e-4 with the same
//! argmax on every digit; every int8 file must agree with its f32 file on >= 99.5% of digits and
//! lose at most 0.3 point of accuracy; the firmware's int8 model at most 0.1 point, with
//! >= 99.7% agreement, in 64 KiB (flash that small MCUs have).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::Device;
use model_embed::BOARD_STAGE;
use runtime_nostd::{Model, Variant};
use trainer::artifacts::StageDir;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::stages::Stage;
use trainer::train::evaluate;

struct Row {
    stage: Stage,
    variant: Variant,
    accuracy: f64,
    max_abs_diff: f32,
    agreement_with_f32: f64,
    model_bytes: usize,
    scratch_bytes: usize,
    us_per_image: f64,
    predictions: Vec<u8>,
    /// Per digit, the gap between the two highest probabilities: how far from a tie.
    margins: Vec<f32>,
    /// int8: digits where the f32 file was confident (margin >= [`CONFIDENT_MARGIN`]) and the
    /// int8 file answers otherwise (a figure for every stage; a check for dense-sigmoid).
    confident_disagreements: usize,
}

/// The top-2 probability gap from which an f32 answer counts as confident.
const CONFIDENT_MARGIN: f32 = 0.05;

fn top2_margin(probabilities: &[f32]) -> f32 {
    let (first, second) =
        probabilities.iter().fold(
            (0.0f32, 0.0f32),
            |(a, b), &p| {
                if p > a { (p, a) } else { (a, b.max(p)) }
            },
        );
    first - second
}

fn run(
    stage: Stage,
    variant: Variant,
    models: &Path,
    test: &Mnist,
    reference: &[f32],
    f32_row: Option<&Row>,
) -> Result<Row, String> {
    let path = StageDir::new(models, stage).flat(variant);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: {e}; export it with `cargo run -p trainer --release -- export`",
            path.display()
        )
    })?;
    let model = Model::parse(&bytes).map_err(|e| format!("{}: {e:?}", path.display()))?;
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    let mut probabilities = vec![0.0f32; test.len() * CLASSES];
    let mut predictions = Vec::with_capacity(test.len());
    let start = Instant::now();
    for (i, out) in probabilities.chunks_mut(CLASSES).enumerate() {
        let class = model
            .infer(test.image(i), scratch, out)
            .map_err(|e| format!("{stage} {}: {e:?}", variant.name()))?;
        predictions.push(class as u8);
    }
    let us_per_image = start.elapsed().as_secs_f64() * 1e6 / test.len() as f64;
    let max_abs_diff = probabilities
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let correct = predictions
        .iter()
        .zip(&test.labels)
        .filter(|(p, l)| p == l)
        .count();
    let margins: Vec<f32> = probabilities.chunks(CLASSES).map(top2_margin).collect();
    let (f32_predictions, f32_margins) =
        f32_row.map_or((&predictions, &margins), |r| (&r.predictions, &r.margins));
    let agree = predictions
        .iter()
        .zip(f32_predictions)
        .filter(|(a, b)| a == b)
        .count();
    let confident_disagreements = predictions
        .iter()
        .zip(f32_predictions)
        .zip(f32_margins)
        .filter(|((a, b), m)| a != b && **m >= CONFIDENT_MARGIN)
        .count();
    Ok(Row {
        stage,
        variant,
        accuracy: correct as f64 / test.len() as f64,
        max_abs_diff,
        agreement_with_f32: agree as f64 / test.len() as f64,
        model_bytes: bytes.len(),
        scratch_bytes: model.scratch_bytes(),
        us_per_image,
        predictions,
        margins,
        confident_disagreements,
    })
}

/// What an int8 file must meet against its f32 file.
#[derive(Clone, Copy)]
struct Int8Floor {
    /// Top-1 agreement with the f32 file, at least.
    agreement: f64,
    /// Accuracy below the f32 file's, at most.
    accuracy_loss: f64,
    /// Whether it must change no answer the f32 file gives with confidence.
    keeps_confident_answers: bool,
    /// File size, at most.
    max_bytes: Option<usize>,
}

/// Every int8 file, unless [`FLOOR_EXCEPTIONS`] names its stage.
const INT8_FLOOR: Int8Floor = Int8Floor {
    agreement: 0.995,
    accuracy_loss: 0.003,
    keeps_confident_answers: false,
    max_bytes: None,
};

/// Stages held to other floors. dense-sigmoid's f32 model answers 427 of the 10,000 test digits
/// with its top two probabilities within 0.01 of each other (cnn-bn: 3, dense1: 49), and 8-bit
/// rounding flips near-ties: its int8 file agrees on 99.04%, every flip within a 0.008 margin. So
/// its floor is lower, on condition that it changes no answer the f32 file gives with
/// confidence. The firmware's model ([`BOARD_STAGE`]) is held tighter: agreement, accuracy loss,
/// size.
const FLOOR_EXCEPTIONS: [(&str, Int8Floor); 2] = [
    (
        "dense-sigmoid",
        Int8Floor {
            agreement: 0.99,
            keeps_confident_answers: true,
            ..INT8_FLOOR
        },
    ),
    (
        BOARD_STAGE,
        Int8Floor {
            agreement: 0.997,
            accuracy_loss: 0.001,
            // The board issue's budget: small-flash microcontrollers hold it too.
            max_bytes: Some(64 * 1024),
            ..INT8_FLOOR
        },
    ),
];

fn int8_floor(stage: Stage) -> Int8Floor {
    FLOOR_EXCEPTIONS
        .iter()
        .find(|(name, _)| *name == stage.name())
        .map_or(INT8_FLOOR, |&(_, floor)| floor)
}

/// The thresholds; returns what failed.
fn failures(row: &Row, reference_predictions: &[u8], f32_accuracy: f64) -> Vec<String> {
    let mut failed = Vec::new();
    let stage = row.stage;
    match row.variant {
        Variant::F32 => {
            if row.max_abs_diff > 1e-4 {
                failed.push(format!(
                    "{stage} f32: max |diff| {} > 1e-4",
                    row.max_abs_diff
                ));
            }
            let same = row
                .predictions
                .iter()
                .zip(reference_predictions)
                .filter(|(a, b)| a == b)
                .count();
            if same != reference_predictions.len() {
                failed.push(format!(
                    "{stage} f32: argmax differs from the reference on {} digits",
                    reference_predictions.len() - same
                ));
            }
        }
        Variant::Int8 => {
            let floor = int8_floor(stage);
            if floor.keeps_confident_answers && row.confident_disagreements > 0 {
                failed.push(format!(
                    "{stage} int8 changes {} answers the f32 file gives with a top-2 margin >= {CONFIDENT_MARGIN}",
                    row.confident_disagreements
                ));
            }
            if row.accuracy < f32_accuracy - floor.accuracy_loss {
                failed.push(format!(
                    "{stage} int8 accuracy {:.2}% < f32 {:.2}% - {:.1} pt",
                    row.accuracy * 100.0,
                    f32_accuracy * 100.0,
                    floor.accuracy_loss * 100.0
                ));
            }
            if row.agreement_with_f32 < floor.agreement {
                failed.push(format!(
                    "{stage} int8 agreement with f32 {:.2}% < {:.1}%",
                    row.agreement_with_f32 * 100.0,
                    floor.agreement * 100.0
                ));
            }
            if let Some(max) = floor.max_bytes.filter(|&max| row.model_bytes > max) {
                failed.push(format!("{stage} int8 file {} B > {max} B", row.model_bytes));
            }
        }
    }
    failed
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let stages: Vec<Stage> = match args
        .iter()
        .position(|a| a == "--stage")
        .and_then(|i| args.get(i + 1))
    {
        Some(list) => match list.split(',').map(str::parse).collect() {
            Ok(stages) => stages,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Stage::ALL.to_vec(),
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let test = match Mnist::load(&root.join("data/mnist"), Split::Test, Checksum::Verify) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let models = args
        .iter()
        .position(|a| a == "--models")
        .and_then(|i| args.get(i + 1))
        .map_or(root.join("models"), std::path::PathBuf::from);
    let device = Device::flex();
    if !json {
        println!(
            "| stage | variant | accuracy | max abs diff vs reference | top-1 agreement with f32 | changed confident answers | model bytes | scratch bytes | us/image |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    }
    let mut failed = Vec::new();
    for stage in stages {
        let reference = match StageDir::new(&models, stage).load_model(&device) {
            Ok(model) => evaluate(&model, &test, &device),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let f32_row = run(
            stage,
            Variant::F32,
            &models,
            &test,
            &reference.probabilities,
            None,
        );
        let rows = f32_row.and_then(|f| {
            let i8_row = run(
                stage,
                Variant::Int8,
                &models,
                &test,
                &reference.probabilities,
                Some(&f),
            )?;
            Ok([f, i8_row])
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        };
        let f32_accuracy = rows[0].accuracy;
        for row in &rows {
            failed.extend(failures(row, &reference.predictions, f32_accuracy));
            if json {
                println!(
                    "{{\"stage\":\"{}\",\"variant\":\"{}\",\"accuracy\":{},\"max_abs_diff\":{},\"agreement_with_f32\":{},\"confident_disagreements\":{},\"model_bytes\":{},\"scratch_bytes\":{},\"us_per_image\":{:.2}}}",
                    row.stage,
                    row.variant.name(),
                    row.accuracy,
                    row.max_abs_diff,
                    row.agreement_with_f32,
                    row.confident_disagreements,
                    row.model_bytes,
                    row.scratch_bytes,
                    row.us_per_image
                );
            } else {
                println!(
                    "| {} | {} | {:.2}% | {:.1e} | {:.2}% | {} | {} | {} | {:.1} |",
                    row.stage,
                    row.variant.name(),
                    100.0 * row.accuracy,
                    row.max_abs_diff,
                    100.0 * row.agreement_with_f32,
                    row.confident_disagreements,
                    row.model_bytes,
                    row.scratch_bytes,
                    row.us_per_image
                );
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        for f in &failed {
            eprintln!("FAIL: {f}");
        }
        ExitCode::FAILURE
    }
}
