//! Training on the real MNIST files: a short run of dense1 learns.

use std::path::Path;

use burn::tensor::Device;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::stages::Stage;
use trainer::train::{TrainOptions, evaluate, train};

fn mnist(split: Split) -> Mnist {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    Mnist::load(&dir, split, Checksum::Verify).unwrap_or_else(|e| panic!("{e}"))
}

fn options(epochs: usize, seed: u64, max_steps: Option<usize>) -> TrainOptions {
    TrainOptions {
        epochs,
        seed,
        max_steps_per_epoch: max_steps,
        progress: false,
        classes: CLASSES,
    }
}

#[test]
fn dense1_on_a_few_thousand_images_exceeds_85_percent() {
    let train_set = mnist(Split::Train).truncated(4_000);
    let test_set = mnist(Split::Test);
    let device = Device::flex();
    let (model, history) = train(
        Stage::named("dense1"),
        &train_set,
        &test_set,
        &device,
        &options(40, 0, None),
    );
    let accuracy = evaluate(&model, &test_set, &device).accuracy;
    assert!(accuracy > 0.85, "dense1 reached only {accuracy}");
    assert_eq!(history.len(), 40);
    assert!(history[39].train_loss < history[0].train_loss);
}
