//! Reproducibility: the same seed gives bit-identical weights on CPU.
//!
//! burn's RNG is process-global, so this test lives alone in its own test binary: another
//! training running concurrently in the same process would draw from the same generator.

use std::path::Path;

use burn::tensor::Device;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::model::Model;
use trainer::stages::Stage;
use trainer::train::{TrainOptions, train};

fn mnist(split: Split) -> Mnist {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    Mnist::load(&dir, split, Checksum::Verify).unwrap_or_else(|e| panic!("{e}"))
}

/// Conv kernels, the hidden dense weights and batch-norm running means.
fn weights(model: &Model) -> Vec<f32> {
    let mut values = Vec::new();
    if let Model::Conv(net) = model {
        for block in &net.convs {
            values.extend(
                block
                    .conv
                    .weight
                    .val()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
        values.extend(
            net.dense
                .weight
                .val()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap(),
        );
        for norm in net.convs.iter().filter_map(|b| b.norm.as_ref()) {
            values.extend(
                norm.running_mean
                    .value()
                    .into_data()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
    }
    values
}

#[test]
fn same_seed_gives_the_same_weights_and_another_seed_does_not() {
    let train_set = mnist(Split::Train).truncated(640);
    let test_set = mnist(Split::Test).truncated(100);
    let device = Device::flex();
    let run = |seed| {
        weights(
            &train(
                Stage::named("cnn-bn"),
                &train_set,
                &test_set,
                &device,
                &TrainOptions {
                    epochs: 1,
                    seed,
                    max_steps_per_epoch: Some(5),
                    lr_schedule: None,
                    refresh_batch_norm: None,
                    progress: false,
                    classes: CLASSES,
                },
            )
            .0,
        )
    };
    let (a, b, c) = (run(3), run(3), run(4));
    assert!(!a.is_empty());
    assert!(a == b, "two runs with seed 3 differ");
    assert!(a != c, "seeds 3 and 4 gave identical weights");
}
