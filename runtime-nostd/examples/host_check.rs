//! Runs all 10,000 MNIST test digits through every stage's f32 and int8 flat models and
//! compares them with the reference (the trainer's burn model, which the ONNX cross-checks tie
//! to tract and ONNX Runtime).
//!
//! `cargo run -p runtime-nostd --release --example host_check [-- --json] [--stage a,b]`
//!
//! Exits non-zero when a threshold fails: f32 must match the reference to 1e-4 with the same
//! argmax on every digit; int8 cnn-bn must stay within 0.1 point of f32 accuracy, agree with f32
//! on >= 99.7% of digits and fit in 360,000 bytes.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::Device;
use runtime_nostd::Model;
use trainer::artifacts::StageDir;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::stages::Stage;
use trainer::train::evaluate;

struct Row {
    stage: Stage,
    variant: &'static str,
    accuracy: f64,
    max_abs_diff: f32,
    agreement_with_f32: f64,
    model_bytes: usize,
    scratch_bytes: usize,
    us_per_image: f64,
    predictions: Vec<u8>,
}

fn run(
    stage: Stage,
    variant: &'static str,
    models: &Path,
    test: &Mnist,
    reference: &[f32],
    f32_predictions: Option<&[u8]>,
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
            .map_err(|e| format!("{stage} {variant}: {e:?}"))?;
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
    let f32_predictions = f32_predictions.unwrap_or(&predictions);
    let agree = predictions
        .iter()
        .zip(f32_predictions)
        .filter(|(a, b)| a == b)
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
    })
}

/// The thresholds of the runtime issue; returns what failed.
fn failures(row: &Row, reference_predictions: &[u8], f32_accuracy: f64) -> Vec<String> {
    let mut failed = Vec::new();
    let (stage, variant) = (row.stage, row.variant);
    if variant == "f32" {
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
    } else if stage == Stage::CnnBatchNorm {
        if row.accuracy < f32_accuracy - 0.001 {
            failed.push(format!(
                "cnn-bn int8 accuracy {} < f32 {} - 0.1 pt",
                row.accuracy, f32_accuracy
            ));
        }
        if row.agreement_with_f32 < 0.997 {
            failed.push(format!(
                "cnn-bn int8 agreement with f32 {} < 99.7%",
                row.agreement_with_f32
            ));
        }
        if row.model_bytes > 360_000 {
            failed.push(format!(
                "cnn-bn int8 file {} B > 360,000 B",
                row.model_bytes
            ));
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
    let models = root.join("models");
    let device = Device::flex();
    if !json {
        println!(
            "| stage | variant | accuracy | max abs diff vs reference | top-1 agreement with f32 | model bytes | scratch bytes | us/image |"
        );
        println!("|---|---|---:|---:|---:|---:|---:|---:|");
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
        let f32_row = run(stage, "f32", &models, &test, &reference.probabilities, None);
        let rows = f32_row.and_then(|f| {
            let i8_row = run(
                stage,
                "i8",
                &models,
                &test,
                &reference.probabilities,
                Some(&f.predictions),
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
                    "{{\"stage\":\"{}\",\"variant\":\"{}\",\"accuracy\":{},\"max_abs_diff\":{},\"agreement_with_f32\":{},\"model_bytes\":{},\"scratch_bytes\":{},\"us_per_image\":{:.2}}}",
                    row.stage,
                    row.variant,
                    row.accuracy,
                    row.max_abs_diff,
                    row.agreement_with_f32,
                    row.model_bytes,
                    row.scratch_bytes,
                    row.us_per_image
                );
            } else {
                println!(
                    "| {} | {} | {:.2}% | {:.1e} | {:.2}% | {} | {} | {:.1} |",
                    row.stage,
                    row.variant,
                    100.0 * row.accuracy,
                    row.max_abs_diff,
                    100.0 * row.agreement_with_f32,
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
