//! Exports of a trained stage. [`layers`] turns a burn [`Model`](crate::model::Model) into a
//! plain list of inference layers (no dropout, batch-norm statistics frozen); every exporter
//! ([`onnx`], and the flat format later) writes from that one list, so they cannot disagree on
//! weights, layouts or layer order.

pub mod layers;
#[cfg(feature = "onnx")]
pub mod onnx;

/// Writes every export of a trained stage next to its folder (`models/<stage>.onnx`) and returns
/// the paths written.
#[cfg(feature = "onnx")]
pub fn export_stage(
    dir: &crate::artifacts::StageDir,
    model: &crate::model::Model,
    metrics: &crate::artifacts::StageMetrics,
) -> Result<Vec<std::path::PathBuf>, crate::artifacts::ArtifactError> {
    let layers = layers::inference_layers(model);
    let provenance = onnx::Provenance {
        stage: metrics.stage.clone(),
        test_accuracy: metrics.test_accuracy,
        training_command: metrics.command.clone(),
    };
    let path = dir.onnx();
    onnx::write_onnx(&onnx::to_onnx(&layers, &provenance), &path).map_err(|e| {
        crate::artifacts::ArtifactError::Write {
            path: path.clone(),
            detail: e.to_string(),
        }
    })?;
    Ok(vec![path])
}
