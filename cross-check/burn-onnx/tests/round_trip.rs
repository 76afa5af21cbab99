//! Our ONNX files imported by burn-onnx give the trainer's answers on all 10,000 test digits.

use std::path::Path;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use trainer::artifacts::StageDir;
use trainer::data::{CLASSES, Checksum, Mnist, Split};
use trainer::stages::Stage;
use trainer::train::{argmax, evaluate, image_batch};

const BATCH: usize = 1000;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Runs `forward` (images -> probabilities) over the test set and checks it against the trainer.
fn check(stage: Stage, forward: impl Fn(Tensor<4>) -> Tensor<2>) {
    let device = Device::flex();
    let test = Mnist::load(&root().join("data/mnist"), Split::Test, Checksum::Verify).unwrap();
    let trained = StageDir::new(&root().join("models"), stage)
        .load_model(&device)
        .unwrap();
    let reference = evaluate(&trained, &test, &device);

    let (mut max_abs_diff, mut same_argmax, mut correct) = (0.0f32, 0, 0);
    let all: Vec<usize> = (0..test.len()).collect();
    for indices in all.chunks(BATCH) {
        let probabilities = forward(image_batch(&test, indices, &device)).into_data();
        let probabilities = probabilities.as_slice::<f32>().unwrap();
        for (row, &i) in probabilities.chunks(CLASSES).zip(indices) {
            let expected = &reference.probabilities[i * CLASSES..(i + 1) * CLASSES];
            max_abs_diff = row
                .iter()
                .zip(expected)
                .map(|(a, b)| (a - b).abs())
                .fold(max_abs_diff, f32::max);
            same_argmax += usize::from(argmax(row) == reference.predictions[i]);
            correct += usize::from(argmax(row) == test.labels[i]);
        }
    }
    let accuracy = correct as f64 / test.len() as f64;
    println!(
        "burn-onnx {stage}: max |diff| {max_abs_diff:.2e}, same argmax {same_argmax}/{}, accuracy {accuracy}",
        test.len()
    );
    assert!(max_abs_diff <= 1e-5, "{stage}: max |diff| {max_abs_diff}");
    assert_eq!(same_argmax, test.len(), "{stage}");
    assert_eq!(accuracy, reference.accuracy, "{stage}");
}

#[test]
fn imported_cnn_bn_matches_the_trainer() {
    let model = burn_onnx_check::cnn_bn::load(&Device::flex());
    check(Stage::named("cnn-bn"), |x| model.forward(x).0);
}

#[test]
fn imported_dense_deep_matches_the_trainer() {
    let model = burn_onnx_check::dense_deep::load(&Device::flex());
    check(Stage::named("dense-deep"), |x| model.forward(x).0);
}

#[test]
fn softmax_of_the_imported_logits_is_the_imported_probabilities() {
    let device = Device::flex();
    let model = burn_onnx_check::dense_deep::load(&device);
    let (probabilities, logits) = model.forward(Tensor::<4>::ones([2, 1, 28, 28], &device));
    let diff = (softmax(logits, 1) - probabilities)
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff < 1e-6, "{diff}");
}
