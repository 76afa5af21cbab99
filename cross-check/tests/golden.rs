//! The committed golden vectors still describe the committed cnn-bn weights.

use mnist_files::Golden;

#[test]
fn committed_golden_vectors_match_the_current_reference() {
    let committed = Golden::read(&cross_check::golden_path()).unwrap_or_else(|e| panic!("{e}"));
    let current = cross_check::golden_vectors().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(committed.stage, current.stage);
    assert_eq!(committed.indices, current.indices);
    assert_eq!(committed.labels, current.labels);
    assert_eq!(committed.predictions, current.predictions);
    assert_eq!(committed.pixels, current.pixels);
    let max_diff = committed
        .probabilities
        .iter()
        .flatten()
        .zip(current.probabilities.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert_eq!(committed.probabilities.len(), 64);
    assert!(
        max_diff <= 1e-6,
        "golden probabilities drifted by {max_diff}: regenerate with `{}`",
        mnist_files::golden::REGENERATE
    );
}
