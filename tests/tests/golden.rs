//! The committed golden vectors still describe the committed cnn-bn weights.

#[test]
fn committed_golden_vectors_match_the_current_reference() {
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tests::golden_path()).expect(
            "tests/golden/cnn-bn.json: regenerate with `cargo run -p tests --release --bin golden`",
        ))
        .unwrap();
    let current = tests::golden_vectors().unwrap_or_else(|e| panic!("{e}"));
    for key in ["stage", "indices", "labels", "predictions", "pixels"] {
        assert_eq!(committed[key], current[key], "{key} differs");
    }
    let flat = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .flat_map(|row| row.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
            .collect()
    };
    let (a, b) = (
        flat(&committed["probabilities"]),
        flat(&current["probabilities"]),
    );
    assert_eq!(a.len(), 64 * 10);
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    assert!(
        max_diff <= 1e-6,
        "golden probabilities drifted by {max_diff}: regenerate with `cargo run -p tests --release --bin golden`"
    );
}
