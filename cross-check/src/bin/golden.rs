//! Writes `cross-check/golden/cnn-bn.json`: 64 test digits with the trainer's cnn-bn probabilities, the
//! reference the no_std runtime and the firmware compare against.
//!
//! `cargo run -p cross-check --release --bin golden`

use std::process::ExitCode;

fn main() -> ExitCode {
    let path = cross_check::golden_path();
    let written = cross_check::golden_vectors().and_then(|golden| {
        golden
            .write(&path)
            .map_err(|e| format!("{}: {e}", path.display()))
    });
    match written {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
