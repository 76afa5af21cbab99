//! What the integration tests that run the `trainer` binary share.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the trainer binary with `args` from the repository root, as users type it.
pub fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .args(args)
        .output()
        .expect("the trainer binary runs")
}
