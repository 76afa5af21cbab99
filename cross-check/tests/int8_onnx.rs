//! The int8 ONNX twins (`models/<stage>.int8.onnx`, CNN stages) against runtime-nostd's int8 flat
//! files on all 10,000 test digits, in ONNX Runtime and in tract: the same top-1 answer on at
//! least 99.9% of the digits and the same accuracy within 0.05 points. ONNX Runtime runs twice:
//! on this machine's CPU, and on an emulated x86-64 CPU with AVX2 but no AVX-512 or VNNI, whose
//! int8 kernels differ (`export::onnx` in the trainer says how the twin is written for both),
//! there on the first [`AVX2_EMULATED_DIGITS`] digits: QEMU runs ONNX Runtime about 60 times
//! slower than the CPU under it. The two cannot agree bit for bit: runtime-nostd requantises the exact int32 sum once with a fixed-point multiplier
//! (round half up), ONNX's QuantizeLinear rounds a float product half to even, and where a
//! runtime computes the QDQ graph in float the sum itself is rounded.

use cross_check::{
    AVX2_EMULATED_DIGITS, compare, int8_onnx_path, ort_avx2_probabilities_of, ort_probabilities_of,
    python_onnx_check, stages_with_int8_onnx, test_set, tract_probabilities_of,
};
use std::sync::OnceLock;

use runtime_nostd::Variant;
use trainer::data::CLASSES;
use trainer::stages::Stage;

/// Least share of digits on which the twin's answer is the flat file's.
const MIN_AGREEMENT: f64 = 0.999;
/// Largest accuracy difference, in fraction of the test set (0.05 points).
const MAX_ACCURACY_GAP: f64 = 0.0005;

/// runtime-nostd's int8 probabilities of every stage with a twin, computed once for both tests.
fn flat_int8() -> &'static [(Stage, Vec<f32>)] {
    static FLAT: OnceLock<Vec<(Stage, Vec<f32>)>> = OnceLock::new();
    FLAT.get_or_init(|| {
        let stages = stages_with_int8_onnx();
        assert!(!stages.is_empty(), "no stage has an int8 ONNX twin");
        stages
            .into_iter()
            .map(|stage| {
                let probabilities = cross_check::flat_probabilities(stage, Variant::Int8)
                    .unwrap_or_else(|e| panic!("{e}"));
                (stage, probabilities)
            })
            .collect()
    })
}

/// Runs every twin through `run`, which gives probabilities for the first `digits` test digits,
/// and checks them against runtime-nostd's int8 on those digits.
fn check_twins(name: &str, digits: usize, run: fn(&std::path::Path) -> Result<Vec<f32>, String>) {
    let labels = &test_set().labels[..digits];
    let mut failures = Vec::new();
    for (stage, flat) in flat_int8() {
        let stage = *stage;
        let path = int8_onnx_path(stage);
        let twin = run(&path).unwrap_or_else(|e| {
            panic!("{e}; export it with `cargo run -p trainer --release -- export`")
        });
        if twin.len() != digits * CLASSES {
            failures.push(format!(
                "{stage}: {} probabilities, not {digits} digits x {CLASSES}",
                twin.len()
            ));
            continue;
        }
        let flat = &flat[..digits * CLASSES];
        let agreement = compare(flat, &twin, labels);
        let flat_accuracy = compare(flat, flat, labels).accuracy;
        let share = agreement.same_argmax as f64 / digits as f64;
        println!(
            "{name} {stage} int8: same answer as runtime-nostd int8 on {}/{digits}, accuracy \
             {:.2}% vs {:.2}%, max |probability difference| {:.1e}",
            agreement.same_argmax,
            100.0 * agreement.accuracy,
            100.0 * flat_accuracy,
            agreement.max_abs_diff
        );
        if share < MIN_AGREEMENT || (agreement.accuracy - flat_accuracy).abs() > MAX_ACCURACY_GAP {
            failures.push(format!(
                "{stage}: {agreement:?} vs accuracy {flat_accuracy}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}'s int8 twin disagrees with runtime-nostd's int8:\n{}",
        failures.join("\n")
    );
}

#[test]
fn onnxruntime_runs_the_int8_twins_as_runtime_nostd_does() {
    check_twins("onnxruntime", test_set().len(), ort_probabilities_of);
}

/// Whatever CPU runs the test (QEMU's user-mode emulator, `PythonCpu::Avx2Only`): ONNX Runtime's
/// default session on a CPU without VNNI, where uint8 x int8 products would saturate.
#[cfg(target_arch = "x86_64")]
#[test]
fn onnxruntime_on_an_avx2_only_cpu_runs_the_int8_twins_as_runtime_nostd_does() {
    check_twins(
        "onnxruntime (emulated AVX2-only CPU)",
        AVX2_EMULATED_DIGITS,
        ort_avx2_probabilities_of,
    );
}

#[test]
fn tract_runs_the_int8_twins_as_runtime_nostd_does() {
    check_twins("tract", test_set().len(), tract_probabilities_of);
}

#[test]
fn onnx_checker_and_strict_shape_inference_accept_the_int8_twins() {
    let paths: Vec<_> = stages_with_int8_onnx()
        .into_iter()
        .map(int8_onnx_path)
        .collect();
    let report = python_onnx_check(&paths).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        report.lines().filter(|l| l.ends_with("contract)")).count(),
        paths.len(),
        "{report}"
    );
}
