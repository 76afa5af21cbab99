//! Exports of a trained stage. [`layers`] turns a burn [`Model`](crate::model::Model) into a
//! plain list of inference layers (no dropout, batch-norm statistics frozen); every exporter
//! ([`onnx`], [`flat`]) writes from that one list, so they cannot disagree on
//! weights, layouts or layer order.

pub mod flat;
pub mod layers;
pub mod onnx;

/// Writes every export of a trained stage beside its folder: `models/<stage>.onnx`, `models/<stage>.f32.mnef` and `models/<stage>.i8.mnef` (int8 calibrated on
/// the first [`flat::CALIBRATION_IMAGES`] of `calibration`). Returns the paths written.
pub fn export_stage(
    dir: &crate::artifacts::StageDir,
    model: &crate::model::Model,
    metrics: &crate::artifacts::StageMetrics,
    calibration: &crate::data::Mnist,
) -> Result<Vec<std::path::PathBuf>, crate::artifacts::ArtifactError> {
    let write_error =
        |path: &std::path::Path, detail: String| crate::artifacts::ArtifactError::Write {
            path: path.to_path_buf(),
            detail,
        };
    let layers = layers::inference_layers(model);
    let mut written = Vec::new();
    {
        let provenance = onnx::Provenance {
            stage: metrics.stage.clone(),
            test_accuracy: metrics.test_accuracy,
            training_command: metrics.command.clone(),
        };
        let path = dir.onnx();
        onnx::write_onnx(&onnx::to_onnx(&layers, &provenance), &path)
            .map_err(|e| write_error(&path, e.to_string()))?;
        written.push(path);
    }
    let (f32_path, i8_path) = (
        dir.flat(runtime_nostd::Variant::F32),
        dir.flat(runtime_nostd::Variant::Int8),
    );
    let files = flat_files(model, metrics, calibration).map_err(|e| {
        let path = match e.variant {
            runtime_nostd::Variant::F32 => &f32_path,
            runtime_nostd::Variant::Int8 => &i8_path,
        };
        write_error(path, e.to_string())
    })?;
    // The int8 ONNX twin of the int8 flat file, for the CNN stages (the ones a deployment on a
    // Linux board would pick).
    if has_convolutions(&layers) {
        let provenance = onnx::Provenance {
            stage: metrics.stage.clone(),
            test_accuracy: metrics.test_accuracy,
            training_command: metrics.command.clone(),
        };
        let path = dir.onnx_int8();
        onnx::write_onnx(&onnx::to_int8_onnx(&files.int8, &provenance), &path)
            .map_err(|e| write_error(&path, e.to_string()))?;
        written.push(path);
    }
    for (path, bytes) in [(f32_path, files.f32_file), (i8_path, files.i8_file)] {
        std::fs::write(&path, bytes).map_err(|e| write_error(&path, e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

/// Whether a stage is a CNN (and so gets an int8 ONNX twin).
pub fn has_convolutions(layers: &[layers::Layer]) -> bool {
    layers.iter().any(|layer| match layer {
        layers::Layer::Conv { .. } => true,
        layers::Layer::Dense { .. } | layers::Layer::Flatten => false,
    })
}

/// A stage's flat files and the int8 quantisation they were made with.
pub struct FlatFiles {
    /// The f32 flat file.
    pub f32_file: Vec<u8>,
    /// The int8 flat file.
    pub i8_file: Vec<u8>,
    /// The int8 layers the int8 file holds (also what the int8 ONNX twin is made from).
    pub int8: Vec<flat::QuantizedStep>,
}

/// A flat file that could not be made, and which one.
#[derive(Debug)]
pub struct FlatFileError {
    /// The file's variant.
    pub variant: runtime_nostd::Variant,
    /// Why.
    pub error: flat::FlatExportError,
}

impl std::fmt::Display for FlatFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FlatFileError {}

/// The bytes of a stage's two flat files, f32 and int8 (calibrated on the first
/// [`flat::CALIBRATION_IMAGES`] of `calibration`), exactly as [`export_stage`] writes them.
pub fn flat_files(
    model: &crate::model::Model,
    metrics: &crate::artifacts::StageMetrics,
    calibration: &crate::data::Mnist,
) -> Result<FlatFiles, FlatFileError> {
    use runtime_nostd::Variant;
    let folded = flat::fold_layers(&layers::inference_layers(model));
    let metadata = |variant: Variant| {
        vec![
            ("stage", metrics.stage.clone()),
            ("variant", variant.name().to_string()),
            (
                "trainer_test_accuracy",
                format!("{:.4}", metrics.test_accuracy),
            ),
            (
                "input",
                "28x28 bytes, MNIST layout, value / 256".to_string(),
            ),
            ("project_version", env!("CARGO_PKG_VERSION").to_string()),
        ]
    };
    let failed = |variant| move |error| FlatFileError { variant, error };
    let f32_file =
        flat::write_f32(&folded, &metadata(Variant::F32)).map_err(failed(Variant::F32))?;
    let mut i8_metadata = metadata(Variant::Int8);
    i8_metadata.push((
        "calibration",
        format!("first {} training images", flat::CALIBRATION_IMAGES),
    ));
    let calibration = calibration.truncated(flat::CALIBRATION_IMAGES);
    let int8 = flat::quantize(&folded, &f32_file, &calibration).map_err(failed(Variant::Int8))?;
    let i8_file = flat::write_int8(&int8, &i8_metadata).map_err(failed(Variant::Int8))?;
    Ok(FlatFiles {
        f32_file,
        i8_file,
        int8,
    })
}
