//! Every stage's ONNX export gives the trainer's answers on all 10,000 test digits in tract and
//! ONNX Runtime, and passes the ONNX checker.

use cross_check::{
    Agreement, compare, onnx_path, ort_probabilities, python_onnx_check, reference_probabilities,
    test_set, tract_probabilities,
};
use trainer::stages::Stage;

fn check_runtime(name: &str, run: fn(Stage) -> Result<Vec<f32>, String>) {
    let labels = &test_set().labels;
    let mut failures = Vec::new();
    for stage in Stage::ALL {
        let reference = reference_probabilities(stage).unwrap_or_else(|e| panic!("{e}"));
        let reference_accuracy = compare(&reference, &reference, labels).accuracy;
        let outputs = run(stage).unwrap_or_else(|e| panic!("{e}"));
        let agreement: Agreement = compare(&reference, &outputs, labels);
        println!("{name} {stage}: {agreement:?}");
        if !agreement.passes(reference_accuracy, labels.len()) {
            failures.push(format!(
                "{stage}: {agreement:?} vs reference accuracy {reference_accuracy}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name} disagrees with the trainer:\n{}",
        failures.join("\n")
    );
}

#[test]
fn tract_matches_the_trainer_on_every_stage() {
    check_runtime("tract", tract_probabilities);
}

#[test]
fn onnxruntime_matches_the_trainer_on_every_stage() {
    check_runtime("onnxruntime", ort_probabilities);
}

#[test]
fn onnx_checker_and_strict_shape_inference_accept_every_file() {
    let paths: Vec<_> = Stage::ALL.iter().map(|&s| onnx_path(s)).collect();
    let report = python_onnx_check(&paths).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.lines().filter(|l| l.ends_with("contract)")).count(),
        Stage::ALL.len(),
        "{report}"
    );
}
