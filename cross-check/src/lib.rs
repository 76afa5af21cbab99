//! Cross-checks of the exported ONNX models: every stage's `models/<stage>.onnx` runs the 10,000
//! MNIST test digits through tract and ONNX Runtime, and the outputs are compared with the
//! trainer's own burn model (the reference).
//!
//! A runtime that cannot be set up (no onnxruntime library, no Python environment) is an error
//! that says how to set it up, never a skipped check.

pub mod redraw;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::Device;
use mnist_files::Golden;
use runtime_nostd::Variant;
use trainer::artifacts::StageDir;
use trainer::data::{CLASSES, Checksum, IMAGE_PIXELS, IMAGE_SIDE, Mnist, Split, scaled_pixels};
use trainer::model::NetConfig;
use trainer::stages::Stage;
use trainer::train::{argmax, evaluate};

/// Images per inference call in the cross-checks (10,000 divides evenly).
pub const BATCH: usize = 1000;
/// Largest accepted |difference| between a runtime's probabilities and the reference.
pub const MAX_ABS_DIFF: f32 = 1e-5;
/// How to get the Python environment and the onnxruntime library.
pub const SETUP_HINT: &str = "run scripts/python-env.sh (creates .venv with onnx and onnxruntime), \
                              or set ORT_DYLIB_PATH to a libonnxruntime.so >= 1.19";

/// The repository root.
pub fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// The 10,000 MNIST test digits (loaded once per process).
pub fn test_set() -> &'static Mnist {
    static TEST: OnceLock<Mnist> = OnceLock::new();
    TEST.get_or_init(|| {
        Mnist::load(&root().join("data/mnist"), Split::Test, Checksum::Verify)
            .unwrap_or_else(|e| panic!("{e}"))
    })
}

/// All test pixels scaled by 1/256, `[10000, 1, 28, 28]` row-major.
pub fn test_pixels() -> &'static [f32] {
    static PIXELS: OnceLock<Vec<f32>> = OnceLock::new();
    PIXELS.get_or_init(|| {
        let all: Vec<usize> = (0..test_set().len()).collect();
        scaled_pixels(test_set(), &all)
    })
}

/// `models/<stage>.onnx`.
pub fn onnx_path(stage: Stage) -> PathBuf {
    StageDir::new(&root().join("models"), stage).onnx()
}

/// `models/<stage>.int8.onnx`, the int8 twin of the int8 flat file (CNN stages).
pub fn int8_onnx_path(stage: Stage) -> PathBuf {
    StageDir::new(&root().join("models"), stage).onnx_int8()
}

/// The stages that have an int8 ONNX twin: the CNNs.
pub fn stages_with_int8_onnx() -> Vec<Stage> {
    Stage::ALL
        .into_iter()
        .filter(|stage| match stage.net() {
            NetConfig::Conv(_) => true,
            NetConfig::Dense(_) => false,
        })
        .collect()
}

/// `models/<stage>.<variant>.mnef` through runtime-nostd: probabilities for all test digits.
pub fn flat_probabilities(stage: Stage, variant: Variant) -> Result<Vec<f32>, String> {
    let path = StageDir::new(&root().join("models"), stage).flat(variant);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let model =
        runtime_nostd::Model::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
    let mut probabilities = vec![0.0f32; test_set().len() * CLASSES];
    for (i, out) in probabilities.chunks_mut(CLASSES).enumerate() {
        model
            .infer(test_set().image(i), scratch, out)
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(probabilities)
}

/// The trainer's burn model on all test digits: softmax probabilities, `10 * 10,000` values.
pub fn reference_probabilities(stage: Stage) -> Result<Vec<f32>, String> {
    let device = Device::flex();
    let model = StageDir::new(&root().join("models"), stage)
        .load_model(&device)
        .map_err(|e| e.to_string())?;
    Ok(evaluate(&model, test_set(), &device).probabilities)
}

/// How a runtime's outputs compare with the reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Largest |difference| over all 100,000 probabilities.
    pub max_abs_diff: f32,
    /// Images whose argmax equals the reference's.
    pub same_argmax: usize,
    /// Accuracy of the runtime's argmax on the labels.
    pub accuracy: f64,
}

impl Agreement {
    /// True when every check of the ONNX issue holds against a reference of this accuracy.
    pub fn passes(&self, reference_accuracy: f64, images: usize) -> bool {
        self.max_abs_diff <= MAX_ABS_DIFF
            && self.same_argmax == images
            && self.accuracy == reference_accuracy
    }
}

/// Compares `outputs` (probabilities, 10 per image) with `reference` on `labels`.
pub fn compare(reference: &[f32], outputs: &[f32], labels: &[u8]) -> Agreement {
    assert_eq!(reference.len(), outputs.len(), "output sizes differ");
    let max_abs_diff = reference
        .iter()
        .zip(outputs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    let (mut same_argmax, mut correct) = (0, 0);
    for ((r, o), &label) in reference
        .chunks(CLASSES)
        .zip(outputs.chunks(CLASSES))
        .zip(labels)
    {
        same_argmax += usize::from(argmax(r) == argmax(o));
        correct += usize::from(argmax(o) == label);
    }
    Agreement {
        max_abs_diff,
        same_argmax,
        accuracy: correct as f64 / labels.len().max(1) as f64,
    }
}

/// Runs a model batch by batch over all test pixels and concatenates its probabilities.
fn run_batches(
    mut run: impl FnMut(&[f32]) -> Result<Vec<f32>, String>,
) -> Result<Vec<f32>, String> {
    let mut out = Vec::with_capacity(test_set().len() * CLASSES);
    for batch in test_pixels().chunks(BATCH * IMAGE_PIXELS) {
        out.extend(run(batch)?);
    }
    Ok(out)
}

/// `models/<stage>.onnx` through tract-onnx: probabilities for all test digits.
pub fn tract_probabilities(stage: Stage) -> Result<Vec<f32>, String> {
    tract_probabilities_of(&onnx_path(stage))
}

/// An ONNX file through tract-onnx: probabilities for all test digits.
pub fn tract_probabilities_of(path: &Path) -> Result<Vec<f32>, String> {
    use tract_onnx::prelude::*;
    let err = |e: TractError| format!("tract on {}: {e:?}", path.display());
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact([BATCH, 1, IMAGE_SIDE, IMAGE_SIDE]).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(err)?;
    run_batches(|batch| {
        let input = Tensor::from_shape(&[BATCH, 1, IMAGE_SIDE, IMAGE_SIDE], batch).map_err(err)?;
        let outputs = model.run(tvec!(input.into())).map_err(err)?;
        let probabilities = outputs[0].to_plain_array_view::<f32>().map_err(err)?;
        Ok(probabilities.iter().copied().collect())
    })
}

/// Finds libonnxruntime: `ORT_DYLIB_PATH`, else the wheel in the project's `.venv`.
pub fn onnxruntime_library() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("ORT_DYLIB_PATH") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "ORT_DYLIB_PATH={} does not exist; {SETUP_HINT}",
                path.display()
            ))
        };
    }
    let lib = root().join(".venv/lib");
    let found = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|python| {
            let capi = python.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so."))
                })
        });
    found.ok_or_else(|| {
        format!(
            "no onnxruntime library: ORT_DYLIB_PATH is unset and {} has none; {SETUP_HINT}",
            lib.display()
        )
    })
}

/// The process's ONNX Runtime environment (ort allows one), loaded on first use.
pub fn ort_environment() -> Result<&'static ort::environment::Environment, String> {
    static ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let library = onnxruntime_library()?;
        ort::init_from(&library)
            .map_err(|e| format!("loading {}: {e}; {SETUP_HINT}", library.display()))?
            .with_name("mnist-edge-cross-check")
            .build()
            .map_err(|e| format!("onnxruntime environment: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// `models/<stage>.onnx` through ONNX Runtime (CPU): probabilities for all test digits.
pub fn ort_probabilities(stage: Stage) -> Result<Vec<f32>, String> {
    ort_probabilities_of(&onnx_path(stage))
}

/// An ONNX file through ONNX Runtime (CPU): probabilities for all test digits.
pub fn ort_probabilities_of(path: &Path) -> Result<Vec<f32>, String> {
    use ort::session::Session;
    use ort::value::Tensor;
    let err = |e: ort::Error| format!("onnxruntime on {}: {e}", path.display());
    let mut session = Session::builder(ort_environment()?)
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(err)?;
    run_batches(|batch| {
        let input = Tensor::from_array(([BATCH, 1, IMAGE_SIDE, IMAGE_SIDE], batch.to_vec()))
            .map_err(err)?;
        let outputs = session.run(ort::inputs!["image" => input]).map_err(err)?;
        let (_, probabilities) = outputs["probabilities"]
            .try_extract_tensor::<f32>()
            .map_err(err)?;
        Ok(probabilities.to_vec())
    })
}

/// The project's Python (`.venv`, made by `scripts/python-env.sh`).
fn python() -> Result<PathBuf, String> {
    let python = root().join(".venv/bin/python");
    if python.is_file() {
        Ok(python)
    } else {
        Err(format!("{} not found; {SETUP_HINT}", python.display()))
    }
}

/// ONNX consumers from outside the Rust stack, run by `cross-check/python/run_onnx.py`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonConsumer {
    /// `onnx.reference.ReferenceEvaluator`, the standard's reference implementation.
    Reference,
    /// OpenCV's DNN module.
    OpenCv,
    /// ONNX Runtime's Python wheel (the library the `ort` crate loads, here runnable under an
    /// emulated CPU).
    OnnxRuntime,
}

impl PythonConsumer {
    /// The script's name for it.
    pub fn name(self) -> &'static str {
        match self {
            PythonConsumer::Reference => "reference",
            PythonConsumer::OpenCv => "opencv",
            PythonConsumer::OnnxRuntime => "onnxruntime",
        }
    }
}

/// The CPU a Python consumer runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PythonCpu {
    /// This machine's.
    Host,
    /// An x86-64 CPU with AVX2 and FMA but no AVX-512 and no VNNI, emulated by QEMU's user mode
    /// (`scripts/avx2-cpu.sh`): the kernels ONNX Runtime picks on such a CPU run whatever CPU
    /// runs the test.
    Avx2Only,
}

/// What a Python consumer gave: probabilities `[images, 10]` and the CPU it saw.
#[derive(Debug, Clone)]
pub struct PythonRun {
    /// Softmax outputs, image after image.
    pub probabilities: Vec<f32>,
    /// The x86 extensions the consumer's CPU reported (`cpu features:` line of run_onnx.py).
    pub cpu_features: Vec<String>,
}

impl PythonRun {
    /// Whether the CPU the consumer saw is an AVX2-only one: AVX2, no AVX-512, no VNNI.
    pub fn saw_avx2_only(&self) -> bool {
        let features = &self.cpu_features;
        features.iter().any(|f| f == "AVX2")
            && !features
                .iter()
                .any(|f| f.starts_with("AVX512") || f.contains("VNNI"))
    }
}

/// Test digits the Python consumers run (the reference evaluator is pure numpy: slow).
pub const PYTHON_IMAGES: usize = 1000;

/// `models/<stage>.onnx` through a Python consumer: probabilities for the first
/// [`PYTHON_IMAGES`] test digits.
pub fn python_probabilities(consumer: PythonConsumer, stage: Stage) -> Result<Vec<f32>, String> {
    python_run(consumer, &onnx_path(stage), PYTHON_IMAGES, PythonCpu::Host).map(|r| r.probabilities)
}

/// An ONNX file through a Python consumer on `cpu`: probabilities for the first `images` test
/// digits, and the CPU features it saw.
pub fn python_run(
    consumer: PythonConsumer,
    model: &Path,
    images: usize,
    cpu: PythonCpu,
) -> Result<PythonRun, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
    let (pixels, probabilities) = (dir.path().join("pixels.f32"), dir.path().join("out.f32"));
    let bytes: Vec<u8> = test_pixels()[..images * IMAGE_PIXELS]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(&pixels, bytes).map_err(|e| format!("{}: {e}", pixels.display()))?;
    let mut command = match cpu {
        PythonCpu::Host => std::process::Command::new(python()?),
        PythonCpu::Avx2Only => {
            let mut emulated = std::process::Command::new(root().join("scripts/avx2-cpu.sh"));
            emulated.arg(python()?);
            emulated
        }
    };
    let output = command
        .arg(root().join("cross-check/python/run_onnx.py"))
        .arg(consumer.name())
        .arg(model)
        .args([&pixels, &probabilities])
        .output()
        .map_err(|e| format!("running cross-check/python/run_onnx.py ({cpu:?} CPU): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{} on {} ({cpu:?} CPU): {}",
            consumer.name(),
            model.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let cpu_features = stdout
        .lines()
        .find_map(|line| line.strip_prefix("cpu features:"))
        .ok_or_else(|| format!("run_onnx.py printed no `cpu features:` line: {stdout}"))?
        .split_whitespace()
        .map(String::from)
        .collect();
    let bytes =
        std::fs::read(&probabilities).map_err(|e| format!("{}: {e}", probabilities.display()))?;
    Ok(PythonRun {
        probabilities: bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        cpu_features,
    })
}

/// Test digits ONNX Runtime runs on the emulated AVX2-only CPU: QEMU is about 60 times slower
/// than the CPU under it (30 s per 1,000 digits and stage here), and 2,000 digits still show a
/// kernel that saturates (the int8-coded twins lost 23 to 188 answers in 10,000 on such a CPU).
pub const AVX2_EMULATED_DIGITS: usize = 2000;

/// An ONNX file through ONNX Runtime on an emulated AVX2-only x86-64 CPU
/// ([`PythonCpu::Avx2Only`]): probabilities for the first [`AVX2_EMULATED_DIGITS`] test digits.
/// An error if the emulated CPU reports AVX-512 or VNNI, or lacks AVX2 (then the check would not
/// check those kernels).
pub fn ort_avx2_probabilities_of(path: &Path) -> Result<Vec<f32>, String> {
    let run = python_run(
        PythonConsumer::OnnxRuntime,
        path,
        AVX2_EMULATED_DIGITS,
        PythonCpu::Avx2Only,
    )?;
    if !run.saw_avx2_only() {
        return Err(format!(
            "the emulated CPU reports {:?}, not AVX2 without AVX-512 or VNNI",
            run.cpu_features
        ));
    }
    Ok(run.probabilities)
}

/// Runs `cross-check/python/check_onnx.py` (onnx.checker full_check + strict shape inference) on files.
pub fn python_onnx_check(paths: &[PathBuf]) -> Result<String, String> {
    let python = python()?;
    let output = std::process::Command::new(&python)
        .arg(root().join("cross-check/python/check_onnx.py"))
        .args(paths)
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Test-set indices of the golden vectors: the first 64 test digits.
pub const GOLDEN_INDICES: std::ops::Range<usize> = 0..64;
/// Stage whose outputs the golden vectors record.
pub const GOLDEN_STAGE: Stage = Stage::named(mnist_files::GOLDEN_STAGE);

/// `cross-check/golden/cnn-bn.json`.
pub fn golden_path() -> PathBuf {
    Golden::path(&root(), GOLDEN_STAGE.name())
}

/// The golden vectors: indices, labels, raw pixels and the reference probabilities of
/// [`GOLDEN_STAGE`] for the test digits in [`GOLDEN_INDICES`] (evaluated as one batch).
pub fn golden_vectors() -> Result<Golden, String> {
    let device = Device::flex();
    let model = StageDir::new(&root().join("models"), GOLDEN_STAGE)
        .load_model(&device)
        .map_err(|e| e.to_string())?;
    let indices: Vec<usize> = GOLDEN_INDICES.collect();
    let subset = Mnist {
        pixels: indices
            .iter()
            .flat_map(|&i| test_set().image(i).to_vec())
            .collect(),
        labels: indices.iter().map(|&i| test_set().labels[i]).collect(),
    };
    let eval = evaluate(&model, &subset, &device);
    Ok(Golden {
        stage: GOLDEN_STAGE.name().into(),
        source:
            "MNIST t10k test set; pixels are raw bytes (0..255), the model input is pixel / 256"
                .into(),
        pixels: indices
            .iter()
            .map(|&i| test_set().image(i).to_vec())
            .collect(),
        indices,
        labels: subset.labels,
        predictions: eval.predictions,
        probabilities: eval
            .probabilities
            .chunks(CLASSES)
            .map(<[f32]>::to_vec)
            .collect(),
    })
}
