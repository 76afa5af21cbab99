//! The trained weights committed under `models/` reproduce the accuracies recorded in their
//! `metrics.json` (and so in README's and docs/training.md's results tables) when loaded and evaluated again.

use std::path::Path;

use burn::tensor::Device;
use trainer::artifacts::{MNIST_DATA, StageDir};
use trainer::data::{Checksum, Mnist, Split};
use trainer::stages::Stage;
use trainer::train::evaluate;

#[test]
fn every_committed_stage_reproduces_its_recorded_accuracy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let test_set = Mnist::load(&root.join("data/mnist"), Split::Test, Checksum::Verify).unwrap();
    let device = Device::flex();
    for stage in Stage::ALL {
        let dir = StageDir::new(&root.join("models"), stage);
        let recorded = dir.load_metrics().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            recorded.data.as_deref(),
            Some(MNIST_DATA),
            "{stage}'s data set"
        );
        let model = dir.load_model(&device).unwrap_or_else(|e| panic!("{e}"));
        let accuracy = evaluate(&model, &test_set, &device).accuracy;
        assert_eq!(
            accuracy, recorded.test_accuracy,
            "{stage}: evaluated {accuracy}, recorded {}",
            recorded.test_accuracy
        );
        assert_eq!(
            recorded.epochs.len(),
            stage.recipe().epochs,
            "{stage} was not fully trained"
        );
        let params = stage
            .init_model(&device.clone().autodiff())
            .trainable_params();
        assert_eq!(recorded.params, params, "{stage}");
    }
}

/// The exports in `models/` (ONNX, int8 ONNX twin, f32 and int8 flat files) are what the
/// exporter makes of the committed weights today, byte for byte: a change to folding, layouts,
/// quantisation or a writer shows up here, and the files are re-exported (`cargo run -p trainer
/// --release -- export`) with the reason stated.
#[test]
fn re_exporting_every_stage_gives_the_committed_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let train = Mnist::load(&root.join("data/mnist"), Split::Train, Checksum::Verify).unwrap();
    let device = Device::flex();
    let mut compared = 0;
    for stage in Stage::ALL {
        let dir = StageDir::new(&root.join("models"), stage);
        let metrics = dir.load_metrics().unwrap_or_else(|e| panic!("{e}"));
        let model = dir.load_model(&device).unwrap_or_else(|e| panic!("{e}"));
        let exports = trainer::export::stage_exports(&model, &metrics, &train)
            .unwrap_or_else(|e| panic!("{stage}: {e}"));
        for (path, made) in exports.files(&dir) {
            let committed =
                std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let first_difference = committed.iter().zip(made).position(|(a, b)| a != b);
            assert!(
                committed == made,
                "{}: the exporter now writes {} bytes, the committed file has {} (first difference at byte {:?}); \
                 re-export with `cargo run -p trainer --release -- export` if the change is meant",
                path.display(),
                made.len(),
                committed.len(),
                first_difference
            );
            compared += 1;
        }
    }
    // Four files per stage, three for the dense stages (no int8 twin).
    assert!(
        compared >= 3 * Stage::ALL.len(),
        "compared {compared} files"
    );
}
