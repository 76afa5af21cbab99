//! For a firmware binary's build script: the binary chooses the flat model files it embeds, and
//! this writes `$OUT_DIR/models.rs` with each file's bytes and the scratch size it needs, as
//! `runtime_nostd::Model::scratch_bytes` computes it from the file. Nothing keeps a hand-written
//! size in step with a model: a new model file brings its own. A file the firmware cannot run
//! (another class count or input than the app's, more scratch than a board has) fails the
//! build with the file named ([`check`]), not the board at power-up.
//!
//! ```ignore
//! // build.rs
//! let root = std::path::Path::new("../..");
//! model_embed::embed(&[("MODEL", model_embed::board_model(root, "i8"))]);
//! // main.rs
//! mod models { include!(concat!(env!("OUT_DIR"), "/models.rs")); }
//! let session = Session::<{ models::MODEL_SCRATCH_BYTES }>::new(models::MODEL);
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The stage whose int8 model the boards embed (the simulator, the QEMU check and the app's host
/// tests use the same): the most accurate on the redrawn test set (what a finger on the panel
/// produces; `cargo run -p cross-check --release --bin redrawn`) among those that fit the boards'
/// flash. The one place this is decided.
pub const BOARD_STAGE: &str = "cnn-mcu";

/// The most scratch memory the Pico boards can give their model, in bytes: the RP2040's 264 KiB
/// of SRAM (the smaller chip) less the stack reserve that `size-report.sh` keeps (32 KiB) and the
/// app's other statics (canvas, RTT buffer and the rest: the Pico build's static RAM holds 48,172
/// bytes with the int8 model's 14,851-byte scratch among them, docs/firmware.md). The static RAM
/// budget there is tighter still, and fails the test command past 64 KiB.
pub const BOARD_SCRATCH_BYTES: usize = 200 * 1024;

/// Why a model file cannot be embedded.
#[derive(Debug)]
pub enum EmbedError {
    /// The file cannot be read.
    Read(std::io::Error),
    /// The file does not parse.
    Parse(runtime_nostd::ParseError),
    /// The app cannot run the model (class count or input).
    App(app::recognizer::RecognizerError),
    /// The model needs more scratch memory than the binary has for it.
    Scratch {
        /// What it needs.
        needed: usize,
        /// What the binary has.
        limit: usize,
    },
}

impl std::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmbedError::Read(e) => write!(
                f,
                "{e}; export the models with `cargo run -p trainer --release -- export`"
            ),
            EmbedError::Parse(e) => write!(f, "{e}"),
            EmbedError::App(e) => write!(f, "not a model the firmware can run: {e}"),
            EmbedError::Scratch { needed, limit } => write!(
                f,
                "needs {needed} bytes of scratch memory; this firmware gives a model at most {limit}"
            ),
        }
    }
}

impl std::error::Error for EmbedError {}

/// The bytes of a model file the firmware can run in `scratch_limit` bytes, and the scratch
/// bytes it needs.
pub fn check(path: &Path, scratch_limit: usize) -> Result<(Vec<u8>, usize), EmbedError> {
    let bytes = std::fs::read(path).map_err(EmbedError::Read)?;
    let model = runtime_nostd::Model::parse(&bytes).map_err(EmbedError::Parse)?;
    app::recognizer::check_model(&model).map_err(EmbedError::App)?;
    let needed = model.scratch_bytes();
    if needed > scratch_limit {
        return Err(EmbedError::Scratch {
            needed,
            limit: scratch_limit,
        });
    }
    Ok((bytes, needed))
}

/// `models/<BOARD_STAGE>.<variant>.mnef` under the repository `root` (`variant`: `i8` or `f32`).
pub fn board_model(root: &Path, variant: &str) -> PathBuf {
    root.join("models")
        .join(format!("{BOARD_STAGE}.{variant}.mnef"))
}

/// Writes `$OUT_DIR/models.rs`: for each `(NAME, path)` (the path relative to the crate, as
/// build scripts run there) of a model that runs in `scratch_limit` bytes, `pub static NAME: &[u8]` with the file's bytes, `pub const
/// NAME_LEN: usize`, `pub const NAME_SCRATCH_BYTES: usize` and `pub const
/// NAME_HELPER_SCRATCH_BYTES: usize` (the second core's, `Model::helper_scratch_bytes`), and
/// tells cargo to rebuild when a file changes.
///
/// # Panics
/// Build scripts report by panicking: when `OUT_DIR` is unset, a file fails [`check`] (the
/// message names it and says why), or the output cannot be written.
pub fn embed<P: AsRef<Path>>(models: &[(&str, P)], scratch_limit: usize) {
    let mut source = String::new();
    for (name, path) in models {
        let path = absolute(path.as_ref());
        println!("cargo:rerun-if-changed={}", path.display());
        let (bytes, scratch) =
            check(&path, scratch_limit).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let helper_scratch = runtime_nostd::Model::parse(&bytes)
            .map(|model| model.helper_scratch_bytes())
            .unwrap_or_default();
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let _ = write!(
            source,
            // A binary may use only some of the items (one of several models, not the length).
            "/// The model `{file}`, embedded.\n\
             #[allow(dead_code)]\n\
             pub static {name}: &[u8] = include_bytes!({path:?});\n\
             /// Its length in bytes (for a copy sized at compile time).\n\
             #[allow(dead_code)]\n\
             pub const {name}_LEN: usize = {};\n\
             /// Scratch bytes `{file}` needs (`Model::scratch_bytes`, computed from the file at build time).\n\
             #[allow(dead_code)]\n\
             pub const {name}_SCRATCH_BYTES: usize = {};\n\
             /// Scratch bytes the second core needs for its half of each convolution \
             (`Model::helper_scratch_bytes`).\n\
             #[allow(dead_code)]\n\
             pub const {name}_HELPER_SCRATCH_BYTES: usize = {};\n",
            bytes.len(),
            scratch,
            helper_scratch
        );
    }
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    let target = out.join("models.rs");
    std::fs::write(&target, source).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
}

fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|dir| dir.join(path))
        .ok()
        .and_then(|p| p.canonicalize().ok())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_nostd::format::{
        Activation, ConvGeometry, Layer, LayerKind, NO_QUANTIZATION, Payload, Shape, Variant,
    };
    use runtime_nostd::write::{LayerSpec, f32_bytes, write_model};

    /// An f32 dense layer of zeros (`inputs` -> `outputs`).
    fn dense(inputs: usize, outputs: usize) -> LayerSpec {
        Layer {
            kind: LayerKind::Dense,
            activation: Activation::Identity,
            geometry: ConvGeometry::NONE,
            input: Shape::vector(inputs),
            output: Shape::vector(outputs),
            payload: Payload {
                weights: f32_bytes(&vec![0.0; inputs * outputs]),
                bias: f32_bytes(&vec![0.0; outputs]),
                ..Payload::default()
            },
            input_quant: NO_QUANTIZATION,
            output_quant: NO_QUANTIZATION,
        }
    }

    /// An f32 model file of `layers`.
    fn model_file(input: Shape, classes: usize, layers: Vec<LayerSpec>) -> tempfile::NamedTempFile {
        let bytes = write_model(Variant::F32, input, classes, &[], &layers).unwrap();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        file
    }

    /// Flatten, then one dense layer to `classes` outputs.
    fn dense_model(input: Shape, classes: usize) -> tempfile::NamedTempFile {
        let layers = vec![
            LayerSpec::flatten(input, NO_QUANTIZATION),
            dense(input.len(), classes),
        ];
        model_file(input, classes, layers)
    }

    fn refusal(file: &tempfile::NamedTempFile) -> String {
        check(file.path(), BOARD_SCRATCH_BYTES)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_board_model_fits_the_boards() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let (bytes, scratch) = check(&board_model(&root, "i8"), BOARD_SCRATCH_BYTES).unwrap();
        assert!(!bytes.is_empty() && scratch > 0);
        assert_eq!(
            scratch, 14_851,
            "docs/firmware.md and BOARD_SCRATCH_BYTES cite this size"
        );
        check(&board_model(&root, "f32"), BOARD_SCRATCH_BYTES).unwrap();
    }

    #[test]
    fn a_three_class_model_is_refused() {
        let err = refusal(&dense_model(app::recognizer::INPUT, 3));
        assert!(
            err.contains("3 classes") && err.contains("10 digits"),
            "{err}"
        );
    }

    #[test]
    fn a_model_for_other_images_is_refused() {
        let input = Shape {
            channels: 3,
            height: 32,
            width: 32,
        };
        let err = refusal(&dense_model(input, 10));
        assert!(err.contains("3x32x32") && err.contains("1x28x28"), "{err}");
    }

    /// An f32 3x3 convolution of zeros, stride 1, padding 1, from `input` to `channels`.
    fn conv(input: Shape, channels: usize) -> LayerSpec {
        Layer {
            kind: LayerKind::Conv2d,
            activation: Activation::Relu,
            geometry: ConvGeometry {
                kernel: 3,
                stride: 1,
                pad: 1,
            },
            input,
            output: Shape { channels, ..input },
            payload: Payload {
                weights: f32_bytes(&vec![0.0; channels * 9 * input.channels]),
                bias: f32_bytes(&vec![0.0; channels]),
                ..Payload::default()
            },
            input_quant: NO_QUANTIZATION,
            output_quant: NO_QUANTIZATION,
        }
    }

    #[test]
    fn a_model_needing_more_scratch_than_a_board_has_is_refused() {
        // Two 3x3 convolutions to 64 channels keep the whole 28x28 image, 64 x 784 f32 values
        // (196 KiB), once as input and once as output of the second.
        let input = app::recognizer::INPUT;
        let wide = Shape {
            channels: 64,
            ..input
        };
        let layers = vec![
            conv(input, 64),
            conv(wide, 64),
            LayerSpec::flatten(wide, NO_QUANTIZATION),
            dense(wide.len(), 10),
        ];
        let err = refusal(&model_file(input, 10, layers));
        assert!(
            err.contains("bytes of scratch memory") && err.contains("at most 204800"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_or_corrupt_file_names_the_fix() {
        let err = check(Path::new("/nonexistent/model.mnef"), usize::MAX)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cargo run -p trainer --release -- export"),
            "{err}"
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), b"not a model").unwrap();
        assert!(matches!(
            check(file.path(), usize::MAX),
            Err(EmbedError::Parse(_))
        ));
    }
}
