//! Where a stage's artifacts live (`models/<stage>/...`, or a run folder under `runs/`) and how
//! its weights and metrics are saved and loaded again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use burn::store::{BurnpackStore, ModuleSnapshot};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use runtime_nostd::Variant;

use crate::model::{Model, NetConfig};
use crate::stages::Stage;
use crate::train::EpochMetrics;

/// The committed models: what `eval`, `export` and `report` read by default and the firmware
/// embeds. A training writes here only when `--out` names it.
pub const COMMITTED_MODELS: &str = "models";
/// Where a training writes by default: a new folder per run (ignored by git).
pub const RUNS: &str = "runs";

/// A new run folder under `runs`, not yet created: `<runs>/<UTC date>-<time>-<label>`, with
/// `-2`, `-3`, ... appended when a run of the same second took the name.
pub fn new_run_dir(runs: &Path, label: &str, now: SystemTime) -> PathBuf {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let base = format!("{}-{label}", utc_stamp(seconds));
    std::iter::once(base.clone())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .map(|name| runs.join(name))
        .find(|dir| !dir.exists())
        .expect("an unbounded sequence of names has a free one")
}

/// `YYYYMMDD-HHMMSS` in UTC for a time in seconds since the Unix epoch (the proleptic Gregorian
/// calendar's days from 1970-01-01, counted in 400-year eras from 0000-03-01).
fn utc_stamp(seconds: u64) -> String {
    let (days, of_day) = ((seconds / 86_400) as i64, seconds % 86_400);
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The files under a folder and when each was last written: taken before a run writes into a
/// folder that already holds artifacts, to name afterwards the files it replaced.
#[derive(Debug, Clone, Default)]
pub struct FolderSnapshot(BTreeMap<PathBuf, SystemTime>);

impl FolderSnapshot {
    /// Every file under `dir` (none if it does not exist).
    pub fn of(dir: &Path) -> Self {
        let mut files = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
                let path = entry.path();
                match entry.metadata() {
                    Ok(meta) if meta.is_dir() => pending.push(path),
                    Ok(meta) => {
                        files.insert(path, meta.modified().unwrap_or(UNIX_EPOCH));
                    }
                    Err(_) => {}
                }
            }
        }
        FolderSnapshot(files)
    }

    /// The files of the snapshot that have been written since it was taken (or removed).
    pub fn replaced(&self) -> Vec<PathBuf> {
        self.0
            .iter()
            .filter(|(path, written)| {
                std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .map_or(true, |now| now != **written)
            })
            .map(|(path, _)| path.clone())
            .collect()
    }
}

/// Everything `metrics.json` records about one trained stage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageMetrics {
    /// Stage name.
    pub stage: String,
    /// Seed of the run.
    pub seed: u64,
    /// The burn backend that trained it (`flex`, `vulkan`, `cuda`).
    pub backend: String,
    /// The hardware it ran on, as the backend reports it (GPU adapter or CPU model).
    pub device: String,
    /// The network it trained (what [`StageDir::load_model`] builds to load the weights into).
    pub net: NetConfig,
    /// Trainable parameters.
    pub params: usize,
    /// Final test accuracy in inference mode.
    pub test_accuracy: f64,
    /// The command that produced the artifacts.
    pub command: String,
    /// The data set it trained on, [`MNIST_DATA`] or another folder (what `export` calibrates
    /// the int8 file on: the first training images of the same set). Absent in files that
    /// predate the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// One entry per epoch.
    pub epochs: Vec<EpochMetrics>,
}

/// [`StageMetrics::data`] of a stage trained on MNIST (the default folder, checked against the
/// published checksums).
pub const MNIST_DATA: &str = "MNIST";

impl StageMetrics {
    /// What a hand edit can break that the types do not catch: the file of one stage naming
    /// another, an accuracy outside 0..=1, a training without epochs.
    fn check(&self, stage: Stage) -> Result<(), String> {
        if self.stage != stage.name() {
            return Err(format!(
                "field `stage`: {:?}, but the file is {stage}'s",
                self.stage
            ));
        }
        if !(0.0..=1.0).contains(&self.test_accuracy) {
            return Err(format!(
                "field `test_accuracy`: {}, not a fraction in 0..=1",
                self.test_accuracy
            ));
        }
        if self.epochs.is_empty() {
            return Err("field `epochs`: empty (a trained stage records each epoch)".into());
        }
        Ok(())
    }

    /// Seconds of the first epoch (compilation and autotuning land there on a GPU) and the
    /// median of the others (the steady state), from the per-epoch training times.
    pub fn epoch_seconds(&self) -> EpochSeconds {
        let first = self.epochs.first().map_or(f64::NAN, |e| e.seconds);
        let mut rest: Vec<f64> = self.epochs.iter().skip(1).map(|e| e.seconds).collect();
        rest.sort_by(f64::total_cmp);
        let steady = match rest.len() {
            0 => first,
            n if n % 2 == 1 => rest[n / 2],
            n => 0.5 * (rest[n / 2 - 1] + rest[n / 2]),
        };
        EpochSeconds { first, steady }
    }
}

/// Training time per epoch, the first apart from the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochSeconds {
    /// The first epoch.
    pub first: f64,
    /// The median of the later epochs (the first epoch's when there is only one).
    pub steady: f64,
}

/// Errors reading or writing a stage's artifacts.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the field names and the messages say it all
pub enum ArtifactError {
    /// No weights file for the stage.
    #[error(
        "no trained weights for stage {stage} at {path}; train it there first: cargo run -p trainer --release -- --stage {stage} --out {}",
        artifact_root(path)
    )]
    MissingWeights { stage: Stage, path: PathBuf },
    /// The weights file exists but does not fit the stage's network.
    #[error(
        "weights file {path} is corrupt or belongs to another network ({detail}); retrain: cargo run -p trainer --release -- --stage {stage} --out {}",
        artifact_root(path)
    )]
    BadWeights {
        stage: Stage,
        path: PathBuf,
        detail: String,
    },
    /// `metrics.json` is missing or unreadable.
    #[error(
        "cannot read {path}: {detail}; retrain: cargo run -p trainer --release -- --stage {stage} --out {}",
        artifact_root(path)
    )]
    BadMetrics {
        stage: Stage,
        path: PathBuf,
        detail: String,
    },
    /// A write failed.
    #[error("cannot write {path}: {detail}")]
    Write { path: PathBuf, detail: String },
}

/// The folder that holds the stage folder of an artifact `<root>/<stage>/<file>`: what `--out`
/// names to write it there again.
fn artifact_root(file: &Path) -> String {
    file.parent()
        .and_then(Path::parent)
        .map_or_else(|| ".".into(), |root| root.display().to_string())
}

/// The artifact folder of one stage.
#[derive(Debug, Clone)]
pub struct StageDir {
    /// The stage.
    pub stage: Stage,
    /// `<models>/<stage>`.
    pub dir: PathBuf,
}

impl StageDir {
    /// The folder for `stage` under the models root.
    pub fn new(models: &Path, stage: Stage) -> Self {
        StageDir {
            stage,
            dir: models.join(stage.name()),
        }
    }

    /// The burnpack weights file.
    pub fn weights(&self) -> PathBuf {
        self.dir.join("weights.bpk")
    }

    /// The metrics file.
    pub fn metrics(&self) -> PathBuf {
        self.dir.join("metrics.json")
    }

    /// The ONNX export, beside the stage folder: `<models>/<stage>.onnx`.
    pub fn onnx(&self) -> PathBuf {
        self.dir.with_extension("onnx")
    }

    /// The int8 ONNX twin of the int8 flat file (CNN stages), beside the stage folder:
    /// `<models>/<stage>.int8.onnx`.
    pub fn onnx_int8(&self) -> PathBuf {
        self.dir.with_extension("int8.onnx")
    }

    /// A flat-format export beside the stage folder: `<models>/<stage>.<variant>.mnef`.
    pub fn flat(&self, variant: Variant) -> PathBuf {
        self.dir.with_extension(format!("{}.mnef", variant.name()))
    }

    /// A plot in the stage folder.
    pub fn plot(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.png"))
    }

    fn write_error(path: &Path, e: impl std::fmt::Display) -> ArtifactError {
        ArtifactError::Write {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    }

    /// Saves the weights, overwriting an earlier run.
    pub fn save_model(&self, model: &Model) -> Result<(), ArtifactError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Self::write_error(&self.dir, e))?;
        let path = self.weights();
        let mut store = BurnpackStore::from_file(&path)
            .overwrite(true)
            .metadata("stage", self.stage.name());
        model
            .save_into(&mut store)
            .map_err(|e| Self::write_error(&path, e))
    }

    /// Loads the weights into a fresh network of the kind `metrics.json` records, in inference
    /// mode.
    pub fn load_model(&self, device: &Device) -> Result<Model, ArtifactError> {
        let path = self.weights();
        if !path.is_file() {
            return Err(ArtifactError::MissingWeights {
                stage: self.stage,
                path,
            });
        }
        let bad = |detail: String| ArtifactError::BadWeights {
            stage: self.stage,
            path: path.clone(),
            detail,
        };
        let mut model = self.load_metrics()?.net.init(device);
        let mut store = BurnpackStore::from_file(&path);
        // A panic inside the decoder on a damaged file must become an error, not a crash.
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.load_from(&mut store)))
                .map_err(|_| bad("the decoder rejected the file".into()))?
                .map_err(|e| bad(e.to_string()))?;
        if !result.is_success() || !result.missing.is_empty() || !result.unused.is_empty() {
            return Err(bad(format!(
                "missing {:?}, unused {:?}, errors {:?}",
                result.missing, result.unused, result.errors
            )));
        }
        Ok(burn::module::Module::valid(&model))
    }

    /// Writes `metrics.json`.
    pub fn save_metrics(&self, metrics: &StageMetrics) -> Result<(), ArtifactError> {
        let path = self.metrics();
        std::fs::create_dir_all(&self.dir).map_err(|e| Self::write_error(&self.dir, e))?;
        let json =
            serde_json::to_string_pretty(metrics).map_err(|e| Self::write_error(&path, e))?;
        std::fs::write(&path, json + "\n").map_err(|e| Self::write_error(&path, e))
    }

    /// Reads `metrics.json`.
    pub fn load_metrics(&self) -> Result<StageMetrics, ArtifactError> {
        let path = self.metrics();
        let bad = |detail: String| ArtifactError::BadMetrics {
            stage: self.stage,
            path: path.clone(),
            detail,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let json = &mut serde_json::Deserializer::from_str(&text);
        let metrics: StageMetrics = serde_path_to_error::deserialize(json).map_err(|e| {
            match e.path().to_string().as_str() {
                // Nothing parsed yet, or the error is about the file as a whole (truncated).
                "." | "" => bad(e.inner().to_string()),
                field => bad(format!("field `{field}`: {}", e.inner())),
            }
        })?;
        metrics.check(self.stage).map_err(bad)?;
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_named_by_utc_time_and_never_reused() {
        assert_eq!(utc_stamp(0), "19700101-000000");
        // 2000-02-29 (a leap day of a year divisible by 400) and the last second of 2026.
        assert_eq!(utc_stamp(951_782_400 + 3_723), "20000229-010203");
        assert_eq!(utc_stamp(1_798_761_599), "20261231-235959");
        let runs = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1_798_761_599);
        let first = new_run_dir(runs.path(), "dense1-quick", now);
        assert_eq!(first, runs.path().join("20261231-235959-dense1-quick"));
        std::fs::create_dir_all(&first).unwrap();
        let second = new_run_dir(runs.path(), "dense1-quick", now);
        assert_eq!(second, runs.path().join("20261231-235959-dense1-quick-2"));
    }

    #[test]
    fn a_snapshot_names_the_files_written_since() {
        let dir = tempfile::tempdir().unwrap();
        let (kept, rewritten) = (dir.path().join("kept"), dir.path().join("sub/rewritten"));
        std::fs::create_dir_all(dir.path().join("sub")).unwrap();
        std::fs::write(&kept, "a").unwrap();
        std::fs::write(&rewritten, "b").unwrap();
        let before = FolderSnapshot::of(dir.path());
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&rewritten, "b").unwrap();
        std::fs::write(dir.path().join("new"), "c").unwrap();
        assert_eq!(before.replaced(), vec![rewritten]);
        assert!(
            FolderSnapshot::of(&dir.path().join("absent"))
                .replaced()
                .is_empty()
        );
    }

    fn metrics_for(stage: Stage) -> StageMetrics {
        StageMetrics {
            stage: stage.name().into(),
            seed: 0,
            backend: "flex".into(),
            device: "test".into(),
            net: stage.net(),
            params: 0,
            test_accuracy: 0.9,
            command: String::new(),
            data: Some(MNIST_DATA.into()),
            epochs: vec![EpochMetrics {
                epoch: 1,
                lr: 0.01,
                train_loss: 0.5,
                train_accuracy: 0.85,
                validation_loss: 0.4,
                validation_accuracy: 0.9,
                seconds: 1.0,
                images_per_second: 60_000.0,
                cpu_utilisation: None,
            }],
        }
    }

    #[test]
    fn a_hand_edited_or_truncated_metrics_file_names_the_file_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let dense1 = Stage::named("dense1");
        let stage_dir = StageDir::new(dir.path(), dense1);
        stage_dir.save_metrics(&metrics_for(dense1)).unwrap();
        let good = std::fs::read_to_string(stage_dir.metrics()).unwrap();
        let error_for = |text: &str| {
            std::fs::write(stage_dir.metrics(), text).unwrap();
            let err = stage_dir.load_metrics().unwrap_err();
            assert!(matches!(err, ArtifactError::BadMetrics { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&stage_dir.metrics().display().to_string()),
                "{message}"
            );
            message
        };
        let edited = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            error_for(&good.replacen(from, to, 1))
        };
        let cases = [
            (
                edited("\"test_accuracy\": 0.9", "\"test_accuracy\": \"high\""),
                "field `test_accuracy`",
            ),
            (
                edited("\"test_accuracy\": 0.9", "\"test_accuracy\": 90"),
                "field `test_accuracy`: 90",
            ),
            (edited("\"seed\": 0,", ""), "missing field `seed`"),
            (
                edited("\"stage\": \"dense1\"", "\"stage\": \"cnn\""),
                "field `stage`",
            ),
            (
                edited("\"train_loss\": 0.5", "\"train_loss\": null"),
                "field `epochs[0].train_loss`",
            ),
            (error_for(&good[..good.len() / 2]), "EOF while parsing"),
        ];
        for (message, expected) in cases {
            assert!(message.contains(expected), "{expected:?} not in: {message}");
        }
        let mut no_epochs = metrics_for(dense1);
        no_epochs.epochs.clear();
        stage_dir.save_metrics(&no_epochs).unwrap();
        let err = stage_dir.load_metrics().unwrap_err().to_string();
        assert!(err.contains("field `epochs`: empty"), "{err}");
    }

    #[test]
    fn weights_round_trip_and_bad_files_are_errors() {
        let device = Device::flex();
        let dir = tempfile::tempdir().unwrap();
        let dense1 = Stage::named("dense1");
        let stage_dir = StageDir::new(dir.path(), dense1);
        assert!(matches!(
            stage_dir.load_model(&device),
            Err(ArtifactError::MissingWeights { .. })
        ));

        let model = dense1.init_model(&device);
        stage_dir.save_model(&model).unwrap();
        assert!(matches!(
            stage_dir.load_model(&device),
            Err(ArtifactError::BadMetrics { .. })
        ));
        stage_dir.save_metrics(&metrics_for(dense1)).unwrap();
        assert_eq!(stage_dir.load_metrics().unwrap(), metrics_for(dense1));
        let loaded = stage_dir.load_model(&device).unwrap();
        let x = burn::tensor::Tensor::<4>::ones([1, 1, 28, 28], &device);
        let (a, b) = (
            model.forward(x.clone()).into_data(),
            loaded.forward(x).into_data(),
        );
        assert_eq!(a.as_slice::<f32>().unwrap(), b.as_slice::<f32>().unwrap());

        // metrics.json gives cnn's network, the weights are dense1's.
        let cnn_net = StageMetrics {
            net: Stage::named("cnn").net(),
            ..metrics_for(dense1)
        };
        stage_dir.save_metrics(&cnn_net).unwrap();
        assert!(matches!(
            stage_dir.load_model(&device),
            Err(ArtifactError::BadWeights { .. })
        ));
        stage_dir.save_metrics(&metrics_for(dense1)).unwrap();

        let bytes = std::fs::read(stage_dir.weights()).unwrap();
        std::fs::write(stage_dir.weights(), &bytes[..bytes.len() / 2]).unwrap();
        let err = stage_dir.load_model(&device).unwrap_err();
        assert!(matches!(err, ArtifactError::BadWeights { .. }), "{err}");
        assert!(err.to_string().contains("--stage dense1"), "{err}");
    }
}
