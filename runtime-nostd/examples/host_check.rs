//! Checks the committed model files with nothing but this crate: every `models/*.mnef` parses
//! and classifies the 64 golden test digits (`cross-check/golden/cnn-bn.json`) with at least as many
//! right as its stage's floor ([`GOLDEN_FLOORS`]: what the committed files score), and the
//! cnn-bn files reproduce the trainer's golden outputs: f32 within 1e-4 with the same answer on
//! every digit, int8 with the same answer on at least 63 of 64.
//!
//! `cargo run -p runtime-nostd --example host_check` (quick in a dev build too: the workspace
//! optimises this crate in dev builds). The full comparison, all 10,000 test digits of every
//! stage against the trainer's burn model, is `cargo run -p cross-check --release --bin flat_check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mnist_files::{GOLDEN_STAGE, Golden};
use runtime_nostd::{Model, Variant};

/// Golden digits (of 64) each stage's files must get right, f32 and int8 alike: the committed
/// files' scores, so a re-export or runtime change that loses a digit fails here.
const GOLDEN_FLOORS: &[(&str, usize)] = &[
    ("dense1", 60),
    ("dense-sigmoid", 47),
    ("dense-relu-adam", 64),
    ("dense-lr-decay", 64),
    ("dense-deep", 64),
    ("dense-dropout", 64),
    ("cnn", 64),
    ("cnn-dropout", 63),
    ("cnn-bn", 64),
    ("cnn-bn-aug", 64),
    ("cnn-mcu", 64),
];

/// One model over the golden digits: its answers and probabilities.
fn classify(model: &Model<'_>, golden: &Golden) -> Result<Vec<(usize, Vec<f32>)>, String> {
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    golden
        .pixels
        .iter()
        .map(|image| {
            let mut p = vec![0.0f32; model.classes()];
            let class = model
                .infer(image, scratch, &mut p)
                .map_err(|e| e.to_string())?;
            Ok((class, p))
        })
        .collect()
}

fn check(path: &Path, golden: &Golden) -> Result<String, String> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let model = Model::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let start = Instant::now();
    let results = classify(&model, golden).map_err(|e| format!("{name}: {e}"))?;
    let us = start.elapsed().as_secs_f64() * 1e6 / results.len().max(1) as f64;
    let correct = results
        .iter()
        .zip(&golden.labels)
        .filter(|((class, _), label)| *class == usize::from(**label))
        .count();
    let stage = model
        .metadata_value("stage")
        .ok_or_else(|| format!("{name}: the file names no stage in its metadata"))?;
    let floor = GOLDEN_FLOORS
        .iter()
        .find(|(s, _)| *s == stage)
        .map(|&(_, floor)| floor)
        .ok_or_else(|| {
            format!("{name}: stage {stage} has no floor in GOLDEN_FLOORS (host_check.rs)")
        })?;
    if correct < floor {
        return Err(format!(
            "{name}: {correct}/{} golden digits right, under {stage}'s floor of {floor}",
            results.len()
        ));
    }
    let mut line = format!(
        "| {name} | {correct}/{} | {} | {us:.0} |",
        results.len(),
        model.scratch_bytes()
    );
    if model.metadata_value("stage") == Some(GOLDEN_STAGE) {
        let same = results
            .iter()
            .zip(&golden.predictions)
            .filter(|((class, _), reference)| *class == usize::from(**reference))
            .count();
        match model.variant() {
            Variant::F32 => {
                let worst = results
                    .iter()
                    .zip(&golden.probabilities)
                    .flat_map(|((_, p), q)| p.iter().zip(q).map(|(a, b)| (a - b).abs()))
                    .fold(0.0, f32::max);
                if worst > 1e-4 || same != results.len() {
                    return Err(format!(
                        "{name}: max |diff| {worst:.1e} against the golden outputs (limit 1e-4), same answer on {same}/{}",
                        results.len()
                    ));
                }
                line += &format!(" golden: max |diff| {worst:.1e}, same answer {same}/64 |");
            }
            Variant::Int8 => {
                if same + 1 < results.len() {
                    return Err(format!(
                        "{name}: the golden answer on only {same}/{} digits (at least 63)",
                        results.len()
                    ));
                }
                line += &format!(" golden: same answer {same}/64 |");
            }
        }
    } else {
        line += " |";
    }
    Ok(line)
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let golden = match Golden::read(&Golden::path(&root, GOLDEN_STAGE)) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("host_check: {e}");
            return ExitCode::FAILURE;
        }
    };
    let models = root.join("models");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&models) {
        Ok(dir) => dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "mnef"))
            .collect(),
        Err(e) => {
            eprintln!("host_check: {}: {e}", models.display());
            return ExitCode::FAILURE;
        }
    };
    files.sort();
    if files.is_empty() {
        eprintln!(
            "host_check: no .mnef files in {}: export them with `cargo run -p trainer --release -- export`",
            models.display()
        );
        return ExitCode::FAILURE;
    }
    println!(
        "| file | golden digits right | scratch bytes | us/image | cnn-bn against the trainer |"
    );
    println!("|---|---:|---:|---:|---|");
    let mut failed = 0;
    for path in &files {
        match check(path, &golden) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("host_check: FAIL: {e}");
                failed += 1;
            }
        }
    }
    println!(
        "host_check: {} files, {} failed (the full check: cargo run -p cross-check --release --bin flat_check)",
        files.len(),
        failed
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
