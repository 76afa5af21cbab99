//! `--data-dir` at a data set that is not MNIST: checked by structure rather than by MNIST's
//! checksums, with as many classes as its labels say, and trained. The data sets are made here:
//! 28x28 images of a bar whose position and angle depend on the class, with noise.

mod common;

use std::path::Path;

use common::{trainer, trainer_in};
use onnx_ir::{Message, ModelProto};
use runtime_nostd::Model;
use trainer::data::{Checksum, Mnist, Split};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Writes `<stem>-images-idx3-ubyte` and `<stem>-labels-idx1-ubyte` with `count` images of
/// `classes` kinds of bars.
fn write_split(dir: &Path, stem: &str, count: usize, classes: u8, rng: &mut StdRng) {
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for field in [0x803u32, count as u32, 28, 28] {
        images.extend_from_slice(&field.to_be_bytes());
    }
    for field in [0x801u32, count as u32] {
        labels.extend_from_slice(&field.to_be_bytes());
    }
    for _ in 0..count {
        let class = rng.random_range(0..classes);
        labels.push(class);
        // A bar through a point that moves with the class, at an angle that turns with it.
        let angle = f32::from(class) * std::f32::consts::PI / f32::from(classes);
        let (cx, cy) = (
            10.0 + f32::from(class % 3) * 4.0 + rng.random_range(-1.0..1.0),
            10.0 + f32::from(class / 3 % 3) * 4.0 + rng.random_range(-1.0..1.0),
        );
        for y in 0..28 {
            for x in 0..28 {
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                let across = (dx * angle.sin() - dy * angle.cos()).abs();
                let along = (dx * angle.cos() + dy * angle.sin()).abs();
                let ink = if across < 1.5 && along < 8.0 {
                    220.0
                } else {
                    0.0
                };
                let noisy = ink + rng.random_range(0.0..30.0);
                images.push(noisy as u8);
            }
        }
    }
    std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), images).unwrap();
    std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte")), labels).unwrap();
}

fn data_set(classes: u8) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(u64::from(classes));
    write_split(dir.path(), "train", 2000, classes, &mut rng);
    write_split(dir.path(), "t10k", 300, classes, &mut rng);
    dir
}

/// The class count each export of `stage` under `out` declares: the flat files' headers and
/// the ONNX file's `probabilities` output (its second dimension).
fn exported_classes(out: &Path, stage: &str) -> [usize; 3] {
    let flat = |variant: &str| {
        let bytes = std::fs::read(out.join(format!("{stage}.{variant}.mnef"))).unwrap();
        Model::parse(&bytes).unwrap().classes()
    };
    let onnx =
        ModelProto::parse_from_bytes(&std::fs::read(out.join(format!("{stage}.onnx"))).unwrap())
            .unwrap();
    let output = onnx
        .graph
        .output
        .iter()
        .find(|o| o.name == "probabilities")
        .expect("a probabilities output");
    let type_proto = output.type_.as_ref().expect("a declared type");
    assert!(
        type_proto.has_tensor_type(),
        "probabilities is not a tensor"
    );
    let classes = &type_proto.tensor_type().shape.dim[1];
    assert!(
        classes.has_dim_value(),
        "probabilities' second dimension is {classes:?}"
    );
    let onnx_classes = classes.dim_value() as usize;
    [flat("f32"), flat("i8"), onnx_classes]
}

fn metrics(out: &Path, stage: &str) -> serde_json::Value {
    let path = out.join(stage).join("metrics.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn dense1_trains_on_another_ten_class_data_set() {
    let data = data_set(10);
    let out = tempfile::tempdir().unwrap();
    let run = trainer(&[
        "--stage",
        "dense1",
        "--epochs",
        "3",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("checked by structure"), "{stdout}");
    assert!(stdout.contains("10 classes"), "{stdout}");
    let m = metrics(out.path(), "dense1");
    let accuracy = m["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "dense1 on the bars: {accuracy}");
    assert_eq!(m["net"]["Dense"]["classes"], 10);
    assert!(out.path().join("dense1.i8.mnef").is_file());
    let bars = data.path().canonicalize().unwrap();
    assert_eq!(
        m["data"],
        bars.display().to_string(),
        "metrics.json names the data set"
    );
    // Exporting again calibrates int8 on the training images: those of the same set only.
    let out_dir = out.path().to_str().unwrap();
    let export = trainer(&["export", "--stage", "dense1", "--out", out_dir]);
    assert!(!export.status.success());
    let err = String::from_utf8_lossy(&export.stderr);
    assert!(
        err.contains(&format!("dense1 was trained on {}", bars.display()))
            && err.contains("--data-dir is MNIST"),
        "{err}"
    );
    let bars_dir = data.path().to_str().unwrap();
    let export = trainer(&[
        "export",
        "--stage",
        "dense1",
        "--out",
        out_dir,
        "--data-dir",
        bars_dir,
    ]);
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
}

#[test]
fn the_class_count_comes_from_the_labels_or_the_flag() {
    let data = data_set(3);
    let out = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let base = ["--stage", "dense1", "--epochs", "1", "--data-dir", dir];
    let run = trainer(&[&base[..], &["--out", out.path().to_str().unwrap()]].concat());
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(metrics(out.path(), "dense1")["net"]["Dense"]["classes"], 3);
    assert_eq!(
        exported_classes(out.path(), "dense1"),
        [3; 3],
        "f32, int8, ONNX"
    );
    // A flag above the labels' count gives the model that many outputs ...
    let run = trainer(
        &[
            &base[..],
            &["--classes", "5", "--out", out.path().to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(metrics(out.path(), "dense1")["net"]["Dense"]["classes"], 5);
    assert_eq!(
        exported_classes(out.path(), "dense1"),
        [5; 3],
        "f32, int8, ONNX"
    );
    // ... and one below it names the file, the label and the flag.
    let run = trainer(
        &[
            &base[..],
            &["--classes", "2", "--out", out.path().to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("labels-idx1-ubyte") && err.contains("label 2") && err.contains("--classes"),
        "{err}"
    );
}

#[test]
fn the_default_mnist_folder_is_still_checked_against_the_published_checksums() {
    // From a folder whose data/mnist (the default --data-dir) is MNIST with one test label
    // changed: the structure is sound, the checksum is not, and the run stops naming the file.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let work = tempfile::tempdir().unwrap();
    let mnist = work.path().join("data/mnist");
    std::fs::create_dir_all(&mnist).unwrap();
    for file in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ] {
        std::fs::copy(repo.join("data/mnist").join(file), mnist.join(file)).unwrap();
    }
    let test = Mnist::load(&repo.join("data/mnist"), Split::Test, Checksum::Verify).unwrap();
    let mut labels = Vec::new();
    for field in [0x801u32, test.labels.len() as u32] {
        labels.extend_from_slice(&field.to_be_bytes());
    }
    labels.extend(&test.labels);
    labels[8] = (labels[8] + 1) % 10;
    std::fs::write(mnist.join("t10k-labels-idx1-ubyte"), labels).unwrap();
    let run = trainer_in(work.path(), &["--stage", "dense1", "--quick"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("t10k-labels-idx1-ubyte") && err.contains("published MNIST checksum"),
        "{err}"
    );
    assert!(
        !work.path().join("runs").exists(),
        "a refused run wrote a folder"
    );
}

#[test]
fn mnist_with_another_class_count_is_refused() {
    // MNIST's labels are digits: another class count there is refused with the reason.
    let run = trainer(&[
        "--stage",
        "dense1",
        "--classes",
        "12",
        "--out",
        "/tmp/unused",
    ]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("is MNIST") && err.contains("--data-dir"),
        "{err}"
    );
}
