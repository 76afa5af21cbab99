//! For a firmware binary's build script: the binary chooses the flat model files it embeds, and
//! this writes `$OUT_DIR/models.rs` with each file's bytes and the scratch size it needs, as
//! `runtime_nostd::Model::scratch_bytes` computes it from the file. Nothing keeps a hand-written
//! size in step with a model: a new model file brings its own.
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
pub const BOARD_STAGE: &str = "cnn-bn-aug";

/// `models/<BOARD_STAGE>.<variant>.mnef` under the repository `root` (`variant`: `i8` or `f32`).
pub fn board_model(root: &Path, variant: &str) -> PathBuf {
    root.join("models")
        .join(format!("{BOARD_STAGE}.{variant}.mnef"))
}

/// Writes `$OUT_DIR/models.rs`: for each `(NAME, path)` (the path relative to the crate, as
/// build scripts run there), `pub static NAME: &[u8]` with the file's bytes, `pub const
/// NAME_LEN: usize` and `pub const NAME_SCRATCH_BYTES: usize`, and tells cargo to rebuild when a file changes.
///
/// # Panics
/// Build scripts report by panicking: when `OUT_DIR` is unset, a file is missing (the message
/// says how to export it) or does not parse, or the output cannot be written.
pub fn embed<P: AsRef<Path>>(models: &[(&str, P)]) {
    let mut source = String::new();
    for (name, path) in models {
        let path = absolute(path.as_ref());
        println!("cargo:rerun-if-changed={}", path.display());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; export the models with `cargo run -p trainer --release -- export`",
                path.display()
            )
        });
        let model = runtime_nostd::Model::parse(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
             pub const {name}_SCRATCH_BYTES: usize = {};\n",
            bytes.len(),
            model.scratch_bytes()
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
