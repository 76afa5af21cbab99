//! The trained weights committed under `models/` reproduce the accuracies recorded in their
//! `metrics.json` (and so in README's results table) when loaded and evaluated again.

use std::path::Path;

use burn::tensor::Device;
use trainer::artifacts::StageDir;
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
