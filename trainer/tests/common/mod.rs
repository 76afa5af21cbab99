//! What the integration tests that run the `trainer` binary share.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the trainer binary with `args` from the repository root, as users type it.
#[allow(dead_code)] // each test binary uses what it needs
pub fn trainer(args: &[&str]) -> Output {
    trainer_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."), args)
}

/// Runs the trainer binary with `args` from `dir` (its relative defaults, `data/mnist` and
/// `runs/`, then lie there).
#[allow(dead_code)]
pub fn trainer_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the trainer binary runs")
}
