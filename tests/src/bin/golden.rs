//! Writes `tests/golden/cnn-bn.json`: 64 test digits with the trainer's cnn-bn probabilities, the
//! reference the no_std runtime and the firmware compare against.
//!
//! `cargo run -p tests --release --bin golden`

use std::process::ExitCode;

fn main() -> ExitCode {
    let path = tests::golden_path();
    let written = tests::golden_vectors()
        .and_then(|v| serde_json::to_string(&v).map_err(|e| e.to_string()))
        .and_then(|json| {
            std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))
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
