//! Prints the cross-check table of docs/onnx.md: for every stage, the max |difference| of tract's and ONNX
//! Runtime's probabilities against the trainer, and how many of the 10,000 argmaxes agree.
//!
//! `cargo run -p cross-check --release --bin cross_check`

use std::process::ExitCode;

use cross_check::{
    compare, ort_probabilities, reference_probabilities, test_set, tract_probabilities,
};
use trainer::stages::Stage;

fn main() -> ExitCode {
    let labels = &test_set().labels;
    println!(
        "| stage | accuracy (burn) | tract max abs diff | tract same argmax | onnxruntime max abs diff | onnxruntime same argmax |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let mut ok = true;
    for stage in Stage::ALL {
        let row = (|| {
            let reference = reference_probabilities(stage)?;
            let accuracy = compare(&reference, &reference, labels).accuracy;
            let tract = compare(&reference, &tract_probabilities(stage)?, labels);
            let ort = compare(&reference, &ort_probabilities(stage)?, labels);
            ok &= tract.passes(accuracy, labels.len()) && ort.passes(accuracy, labels.len());
            Ok::<_, String>(format!(
                "| {stage} | {:.2}% | {:.1e} | {}/{} | {:.1e} | {}/{} |",
                100.0 * accuracy,
                tract.max_abs_diff,
                tract.same_argmax,
                labels.len(),
                ort.max_abs_diff,
                ort.same_argmax,
                labels.len()
            ))
        })();
        match row {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
