//! A training set in the board's stroke style: MNIST's 60,000 training digits followed by the
//! same digits redrawn as finger strokes through `app`'s touch session (the redrawn test set's
//! pipeline, `cross_check::redraw`, on the training digits; never on the test digits), and
//! MNIST's test digits unchanged, written as a folder the trainer's `--data-dir` reads.
//!
//! `cargo run -p cross-check --release --bin redrawn_training_set -- DIR [--jitter SEED]`
//!
//! then `cargo run -p trainer --release -- --stage cnn-mcu --data-dir DIR`: docs/training.md
//! ("cnn-mcu") has what it does to the redrawn test set.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use cross_check::redraw::{board_model, redraw_set};
use cross_check::{root, test_set};
use trainer::data::{Checksum, Mnist, Split};

const USAGE: &str = "usage: redrawn_training_set DIR [--jitter SEED]\n  \
    DIR            a new or empty folder for the four IDX files\n  \
    --jitter SEED  panel noise on the strokes: readings off by up to 1.5 canvas px, 2% of polls\n                 \
    dropped, digit i seeded with SEED + i";

struct Args {
    out: PathBuf,
    jitter: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let (mut out, mut jitter) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--jitter" => {
                let v = it
                    .next()
                    .ok_or(format!("--jitter needs a value\n{USAGE}"))?;
                jitter = Some(
                    v.parse()
                        .map_err(|_| format!("--jitter {v}: give a whole number seed"))?,
                );
            }
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with('-') => {
                return Err(format!("unknown argument `{flag}`\n{USAGE}"));
            }
            dir if out.is_none() => out = Some(PathBuf::from(dir)),
            extra => return Err(format!("one folder only, `{extra}` is a second\n{USAGE}")),
        }
    }
    let out = out.ok_or(format!("name the folder to write\n{USAGE}"))?;
    // A folder that holds files could be MNIST itself or an earlier set: refuse rather than mix.
    if std::fs::read_dir(&out).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(format!(
            "{}: the folder is not empty; name a new folder",
            out.display()
        ));
    }
    Ok(Args { out, jitter })
}

fn run(args: &Args) -> Result<(), String> {
    let start = Instant::now();
    let mnist = root().join("data/mnist");
    let train = Mnist::load(&mnist, Split::Train, Checksum::Verify).map_err(|e| e.to_string())?;
    let redrawn = redraw_set(&train, train.len(), board_model()?, args.jitter)?;
    let mut set = train.clone();
    let mut nothing_drawn = 0;
    for (digit, &label) in redrawn.iter().zip(&train.labels) {
        match &digit.digit {
            Some(pixels) => {
                set.pixels.extend_from_slice(pixels);
                set.labels.push(label);
            }
            None => nothing_drawn += 1,
        }
    }
    let write_error = |e: std::io::Error| format!("{}: {e}", args.out.display());
    std::fs::create_dir_all(&args.out).map_err(write_error)?;
    set.write(&args.out, Split::Train).map_err(write_error)?;
    test_set()
        .write(&args.out, Split::Test)
        .map_err(write_error)?;
    println!(
        "redrawn_training_set: {} training digits ({} MNIST, {} redrawn, {nothing_drawn} with \
         nothing to draw left out), {} test digits, in {} ({:.0} s)",
        set.len(),
        train.len(),
        set.len() - train.len(),
        test_set().len(),
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redrawn_training_set: {e}");
            ExitCode::FAILURE
        }
    }
}
