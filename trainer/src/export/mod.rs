//! Exports of a trained stage, as one pipeline:
//!
//! 1. [`layers`]: the burn [`Model`](crate::model::Model) as a plain list of inference layers
//!    (no dropout, batch-norm statistics frozen), in one layout (ONNX's) from here to the writers;
//! 2. [`fold`]: batch norm folded into the weights, shapes worked out;
//! 3. [`quantize`]: the folded layers in int8, calibrated through the f32 flat file;
//! 4. writers: [`onnx`] writes the float ONNX file from 1 and the int8 twin from 3, [`flat`] the
//!    f32 flat file from 2 and the int8 one from 3. Each converts to its own format's layout as it
//!    writes, so the files cannot disagree on weights or layer order.

pub mod flat;
pub mod fold;
pub mod layers;
pub mod onnx;
pub mod quantize;

use std::path::PathBuf;

use runtime_nostd::Variant;
use runtime_nostd::format::LayerKind;
use runtime_nostd::write::WriteError;

use crate::artifacts::{ArtifactError, StageDir, StageMetrics};
use crate::data::Mnist;
use crate::model::Model;
use quantize::{CALIBRATION_IMAGES, CalibrationError};

/// Why an export could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportError {
    /// A layer's shapes do not fit the flat format.
    Fold(fold::FoldError),
    /// The flat writer refused the layers.
    Write(WriteError),
    /// The int8 calibration failed.
    Calibration(CalibrationError),
}

impl std::fmt::Display for ExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExportError::Fold(e) => write!(f, "the flat format cannot hold {e}"),
            ExportError::Write(e) => write!(f, "cannot write the flat file: {e}"),
            ExportError::Calibration(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ExportError {}

/// A flat file that could not be made, and which one.
#[derive(Debug)]
pub struct FlatFileError {
    /// The file's variant.
    pub variant: Variant,
    /// Why.
    pub error: ExportError,
}

impl std::fmt::Display for FlatFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for FlatFileError {}

/// Every export of a stage, as bytes.
pub struct StageExports {
    /// The float ONNX file.
    pub onnx: Vec<u8>,
    /// The int8 ONNX twin of the int8 flat file, for the CNN stages (the ones a deployment on a
    /// Linux board would pick).
    pub int8_onnx: Option<Vec<u8>>,
    /// The f32 flat file.
    pub f32_file: Vec<u8>,
    /// The int8 flat file.
    pub i8_file: Vec<u8>,
}

impl StageExports {
    /// Each file with where it goes in `dir`.
    pub fn files(&self, dir: &StageDir) -> Vec<(PathBuf, &[u8])> {
        let mut files = vec![(dir.onnx(), self.onnx.as_slice())];
        if let Some(int8_onnx) = &self.int8_onnx {
            files.push((dir.onnx_int8(), int8_onnx));
        }
        files.push((dir.flat(Variant::F32), &self.f32_file));
        files.push((dir.flat(Variant::Int8), &self.i8_file));
        files
    }
}

/// Every export of a trained stage (int8 calibrated on the first [`CALIBRATION_IMAGES`] of
/// `calibration`), exactly as [`export_stage`] writes them.
pub fn stage_exports(
    model: &Model,
    metrics: &StageMetrics,
    calibration: &Mnist,
) -> Result<StageExports, FlatFileError> {
    let layers = layers::inference_layers(model);
    let provenance = onnx::Provenance {
        stage: metrics.stage.clone(),
        test_accuracy: metrics.test_accuracy,
        training_command: metrics.command.clone(),
    };
    let onnx = onnx::to_onnx(&layers, &provenance).to_bytes();
    let folded = fold::fold_layers(&layers).map_err(|e| FlatFileError {
        variant: Variant::F32,
        error: ExportError::Fold(e),
    })?;
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
    let failed = |variant| {
        move |error| FlatFileError {
            variant,
            error: ExportError::Write(error),
        }
    };
    let f32_file =
        flat::write_f32(&folded, &metadata(Variant::F32)).map_err(failed(Variant::F32))?;
    let mut i8_metadata = metadata(Variant::Int8);
    i8_metadata.push((
        "calibration",
        format!("first {CALIBRATION_IMAGES} training images"),
    ));
    let calibration = calibration.truncated(CALIBRATION_IMAGES);
    let int8 = quantize::quantize(&folded, &f32_file, &calibration).map_err(|e| FlatFileError {
        variant: Variant::Int8,
        error: ExportError::Calibration(e),
    })?;
    let has_convolutions = folded.iter().any(|l| l.kind == LayerKind::Conv2d);
    let i8_file = flat::write_int8(&int8, &i8_metadata).map_err(failed(Variant::Int8))?;
    let int8_onnx = has_convolutions.then(|| onnx::to_int8_onnx(&int8, &provenance).to_bytes());
    Ok(StageExports {
        onnx,
        int8_onnx,
        f32_file,
        i8_file,
    })
}

/// Writes every export of a trained stage beside its folder: `models/<stage>.onnx`,
/// `models/<stage>.int8.onnx` (CNN stages), `models/<stage>.f32.mnef` and
/// `models/<stage>.i8.mnef`. Returns the paths written.
pub fn export_stage(
    dir: &StageDir,
    model: &Model,
    metrics: &StageMetrics,
    calibration: &Mnist,
) -> Result<Vec<PathBuf>, ArtifactError> {
    let exports = stage_exports(model, metrics, calibration).map_err(|e| ArtifactError::Write {
        path: dir.flat(e.variant),
        detail: e.to_string(),
    })?;
    let mut written = Vec::new();
    for (path, bytes) in exports.files(dir) {
        std::fs::write(&path, bytes).map_err(|e| ArtifactError::Write {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        written.push(path);
    }
    Ok(written)
}
