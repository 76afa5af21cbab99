//! The golden vectors, `cross-check/golden/<stage>.json`: the first test digits with the reference
//! model's outputs. The cross-check crate writes them from the trainer's burn model; the no_std
//! runtime's checks, the firmware's QEMU check and its build script read them here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::idx::{CLASSES, IMAGE_PIXELS};

/// The stage the golden vectors are made from: the runtime's and the QEMU check's reference (any
/// stage would do; this one has batch norm, so its folding is checked too).
pub const GOLDEN_STAGE: &str = "cnn-bn";

/// The command that writes the golden vectors again.
pub const REGENERATE: &str = "cargo run -p cross-check --release --bin golden";

/// Test digits with the reference model's outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Golden {
    /// The stage whose outputs these are.
    pub stage: String,
    /// Where the digits come from, and how the model input is made from the pixels.
    pub source: String,
    /// Their indices in the MNIST test set.
    pub indices: Vec<usize>,
    /// Their labels.
    pub labels: Vec<u8>,
    /// The reference model's answers.
    pub predictions: Vec<u8>,
    /// Raw pixels, 784 bytes (0..=255) per digit.
    pub pixels: Vec<Vec<u8>>,
    /// The reference model's softmax, ten values per digit.
    pub probabilities: Vec<Vec<f32>>,
}

/// A golden file that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    /// The file cannot be read.
    #[error("{path}: {source}; regenerate it with `{REGENERATE}`")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the golden JSON.
    #[error("{path} is not golden-vector JSON ({detail}); regenerate it with `{REGENERATE}`")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// The fields disagree on the number of digits, or a digit or output has the wrong size.
    #[error("{path}: {detail}; regenerate it with `{REGENERATE}`")]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What disagrees.
        detail: String,
    },
}

impl Golden {
    /// `cross-check/golden/<stage>.json` under the repository root.
    pub fn path(root: &Path, stage: &str) -> PathBuf {
        root.join("cross-check/golden")
            .join(format!("{stage}.json"))
    }

    /// Reads and checks a golden file: every field has one entry per digit, each digit 784
    /// pixels and ten probabilities.
    pub fn read(path: &Path) -> Result<Golden, GoldenError> {
        let text = std::fs::read_to_string(path).map_err(|source| GoldenError::Unreadable {
            path: path.to_path_buf(),
            source,
        })?;
        let golden: Golden = serde_json::from_str(&text).map_err(|e| GoldenError::Malformed {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        golden.check().map_err(|detail| GoldenError::Inconsistent {
            path: path.to_path_buf(),
            detail,
        })?;
        Ok(golden)
    }

    /// Writes the file as [`read`](Self::read) reads it.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(path, json + "\n")
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when it holds no digit.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    fn check(&self) -> Result<(), String> {
        let n = self.len();
        let counts = [
            ("indices", self.indices.len()),
            ("predictions", self.predictions.len()),
            ("pixels", self.pixels.len()),
            ("probabilities", self.probabilities.len()),
        ];
        if let Some((field, count)) = counts.iter().find(|(_, count)| *count != n) {
            return Err(format!("{n} labels but {count} {field}"));
        }
        if let Some(i) = self.pixels.iter().position(|p| p.len() != IMAGE_PIXELS) {
            return Err(format!(
                "digit {i} has {} pixels, not {IMAGE_PIXELS}",
                self.pixels[i].len()
            ));
        }
        if let Some(i) = self.probabilities.iter().position(|p| p.len() != CLASSES) {
            return Err(format!(
                "digit {i} has {} probabilities, not {CLASSES}",
                self.probabilities[i].len()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Golden {
        Golden {
            stage: "cnn-bn".into(),
            source: "test".into(),
            indices: vec![0, 1],
            labels: vec![7, 2],
            predictions: vec![7, 2],
            pixels: vec![vec![0; IMAGE_PIXELS], vec![255; IMAGE_PIXELS]],
            probabilities: vec![vec![0.1; CLASSES], vec![0.1; CLASSES]],
        }
    }

    #[test]
    fn round_trips_and_names_the_fix_when_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.json");
        sample().write(&path).unwrap();
        assert_eq!(Golden::read(&path).unwrap(), sample());

        let mut short = sample();
        short.pixels[1].pop();
        short.write(&path).unwrap();
        let err = Golden::read(&path).unwrap_err();
        assert!(matches!(err, GoldenError::Inconsistent { .. }), "{err}");
        assert!(err.to_string().contains("digit 1 has 783 pixels"), "{err}");
        assert!(err.to_string().contains(REGENERATE), "{err}");

        std::fs::write(&path, "{").unwrap();
        assert!(matches!(
            Golden::read(&path),
            Err(GoldenError::Malformed { .. })
        ));
        let missing = dir.path().join("none.json");
        assert!(matches!(
            Golden::read(&missing),
            Err(GoldenError::Unreadable { .. })
        ));
    }
}
