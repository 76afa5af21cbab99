//! Training on the real MNIST files: a short run of dense1 learns.

use std::path::Path;

use burn::tensor::Device;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::model::Model;
use trainer::stages::Stage;
use trainer::train::{TrainOptions, evaluate, initial_model, refresh_batch_norm, train};

fn mnist(split: Split) -> Mnist {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    Mnist::load(&dir, split, Checksum::Verify).unwrap_or_else(|e| panic!("{e}"))
}

fn options(epochs: usize, seed: u64, max_steps: Option<usize>) -> TrainOptions {
    TrainOptions {
        epochs,
        seed,
        max_steps_per_epoch: max_steps,
        lr_schedule: None,
        refresh_batch_norm: None,
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

/// Every batch norm's running mean and variance, in order.
fn running_statistics(model: &mut Model) -> Vec<Vec<f32>> {
    let mut statistics = Vec::new();
    for norm in model.batch_norms_mut() {
        for state in [&norm.running_mean, &norm.running_var] {
            let values = state.value_sync().into_data();
            statistics.push(values.as_slice::<f32>().unwrap().to_vec());
        }
    }
    statistics
}

/// A refresh replaces the running statistics with the batches' own, whatever the running
/// averages held: the same network refreshed from the same batches before and after it saw
/// other images ends with the same statistics, where burn's running average (momentum 0.01)
/// would keep 99% of what came before.
#[test]
fn refreshed_batch_norm_statistics_are_the_batches_not_the_history() {
    let train_set = mnist(Split::Train).truncated(512);
    let device = Device::flex().autodiff();
    let model = initial_model(Stage::named("cnn-bn"), CLASSES, 0, &device);
    let batches: Vec<Vec<usize>> = (0..3).map(|b| (b * 64..(b + 1) * 64).collect()).collect();
    let other_images = [(400..512).collect::<Vec<usize>>()];

    let mut refreshed = refresh_batch_norm(model, &train_set, &batches, &device);
    let first = running_statistics(&mut refreshed);
    assert_eq!(first.len(), 8, "cnn-bn has four batch norms");
    let mut seen_other = refresh_batch_norm(refreshed, &train_set, &other_images, &device);
    assert_ne!(
        running_statistics(&mut seen_other),
        first,
        "the other images must leave other statistics for the test to mean anything"
    );
    let mut again = refresh_batch_norm(seen_other, &train_set, &batches, &device);
    assert_eq!(running_statistics(&mut again), first);
    // Back to the training momentum afterwards.
    assert!(again.batch_norms_mut().iter().all(|n| n.momentum == 0.01));
}
