//! Every stage's ONNX export gives the trainer's answers in tract and ONNX Runtime (all 10,000
//! test digits), in the ONNX reference evaluator and OpenCV (the first 1,000), and passes the ONNX
//! checker.

use cross_check::{
    Agreement, PYTHON_IMAGES, PythonConsumer, compare, onnx_path, ort_probabilities,
    python_onnx_check, python_probabilities, reference_probabilities, test_set,
    tract_probabilities,
};
use trainer::data::CLASSES;
use trainer::stages::Stage;

/// Compares a runtime's probabilities on the first test digits (as many as it returns) with the
/// trainer's, for every stage.
fn check_runtime(name: &str, run: impl Fn(Stage) -> Result<Vec<f32>, String>) {
    let mut failures = Vec::new();
    for stage in Stage::ALL {
        let outputs = run(stage).unwrap_or_else(|e| panic!("{e}"));
        let images = outputs.len() / CLASSES;
        let labels = &test_set().labels[..images];
        let mut reference = reference_probabilities(stage).unwrap_or_else(|e| panic!("{e}"));
        reference.truncate(outputs.len());
        let reference_accuracy = compare(&reference, &reference, labels).accuracy;
        let agreement: Agreement = compare(&reference, &outputs, labels);
        println!("{name} {stage}: {agreement:?}");
        if images == 0 || !agreement.passes(reference_accuracy, labels.len()) {
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
fn the_onnx_reference_evaluator_matches_the_trainer_on_every_stage() {
    check_runtime("onnx reference evaluator", |stage| {
        python_probabilities(PythonConsumer::Reference, stage)
    });
}

#[test]
fn opencv_matches_the_trainer_on_every_stage() {
    check_runtime("opencv", |stage| {
        python_probabilities(PythonConsumer::OpenCv, stage)
    });
}

#[test]
fn python_consumers_run_the_promised_number_of_digits() {
    let outputs = python_probabilities(PythonConsumer::OpenCv, Stage::named("dense1"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outputs.len(), PYTHON_IMAGES * CLASSES);
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
