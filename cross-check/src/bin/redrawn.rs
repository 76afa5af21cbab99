//! Accuracy through the board's own drawing pipeline: every MNIST test digit redrawn as finger
//! strokes through `app`'s touch session (see `cross_check::redraw`), then classified by every
//! stage's int8 and f32 flat files, beside the same files on the plain test digits. Writes a
//! grid of the redrawn digits the board's model gets wrong.
//!
//! `cargo run -p cross-check --release --bin redrawn [-- --limit N] [--jitter SEED] [--grid PATH]`
//!
//! The last line, for scripts: `redrawn: <board stage> int8 <accuracy>% on <n> digits (plain
//! <accuracy>%)`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use app::recognizer::CONFIDENCE_THRESHOLD;
use cross_check::redraw::{
    BOARD_STAGE, ConfidenceRow, Redrawn, accuracy, answers, board_model, candidate_thresholds,
    choose_threshold, flat_model, redraw_set,
};
use cross_check::{root, test_set};
use embedded_graphics::mono_font::ascii::FONT_6X10;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::Point;
use runtime_nostd::Variant;
use trainer::data::{IMAGE_SIDE, Mnist};
use trainer::plot::Canvas;
use trainer::stages::Stage;

const USAGE: &str = "usage: redrawn [--limit N] [--stage a,b] [--jitter SEED] [--grid PATH]\n  \
    --limit N      the first N test digits (default: all 10,000)\n  \
    --stage a,b    the stages to classify with (default: all)\n  \
    --jitter SEED  panel noise: readings off by up to 1.5 canvas px, 2% of polls dropped\n  \
    --grid PATH    where to write the grid of the board model's errors\n                 \
    (default: the committed models/<board stage>/redrawn-errors.png for a run over all\n                 \
    digits without jitter, which is that file's figure; target/redrawn/ otherwise)";

struct Args {
    limit: usize,
    stages: Vec<Stage>,
    jitter: Option<u64>,
    grid: Option<PathBuf>,
}

impl Args {
    /// Where the grid goes: `--grid`; else the committed grid, which shows the plain full run
    /// and so is rewritten only by one; else a file under target/ named by the run.
    fn grid(&self) -> PathBuf {
        if let Some(grid) = &self.grid {
            return grid.clone();
        }
        let name = match (self.limit, self.jitter) {
            (usize::MAX, None) => {
                return root()
                    .join("models")
                    .join(BOARD_STAGE.name())
                    .join("redrawn-errors.png");
            }
            (usize::MAX, Some(seed)) => format!("redrawn-errors-jitter{seed}.png"),
            (limit, None) => format!("redrawn-errors-first{limit}.png"),
            (limit, Some(seed)) => format!("redrawn-errors-first{limit}-jitter{seed}.png"),
        };
        root().join("target/redrawn").join(name)
    }
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        limit: usize::MAX,
        stages: Stage::ALL.to_vec(),
        jitter: None,
        grid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--limit" => {
                let v = value()?;
                args.limit = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(format!("--limit {v}: give a positive number of digits"))?;
            }
            "--jitter" => {
                let v = value()?;
                args.jitter = Some(
                    v.parse()
                        .map_err(|_| format!("--jitter {v}: give a whole number seed"))?,
                );
            }
            "--stage" => {
                args.stages = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--grid" => args.grid = Some(value()?.into()),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let board = BOARD_STAGE;
    if !args.stages.contains(&board) {
        return Err(format!(
            "--stage must include the board's stage, {board} (its errors make the grid)"
        ));
    }
    Ok(args)
}

/// One cell per error: the test digit and its redrawn form side by side, the answer under them
/// (in brackets the label); digits with nothing to draw first.
fn error_grid(test: &Mnist, redrawn: &[Redrawn], answers: &[u8], title: &str) -> Canvas {
    const SCALE: i32 = 2;
    const COLUMNS: usize = 8;
    const MAX_ROWS: usize = 16;
    let side = IMAGE_SIDE as i32 * SCALE;
    let (cell_w, cell_h, header) = (2 * side + 14, side + 16, 16);
    let mut wrong: Vec<usize> = (0..answers.len())
        .filter(|&i| answers[i] != test.labels[i])
        .collect();
    wrong.sort_by_key(|&i| redrawn[i].digit.is_some());
    let rows = wrong.len().div_ceil(COLUMNS).clamp(1, MAX_ROWS);
    let mut canvas = Canvas::new(
        (COLUMNS as i32 * cell_w) as u32,
        (header + rows as i32 * cell_h) as u32,
        Rgb888::WHITE,
    );
    let ink = Rgb888::new(30, 30, 30);
    canvas.text(title, Point::new(4, 3), &FONT_6X10, ink, false);
    for (slot, &i) in wrong.iter().take(COLUMNS * MAX_ROWS).enumerate() {
        let at = Point::new(
            (slot % COLUMNS) as i32 * cell_w + 4,
            header + (slot / COLUMNS) as i32 * cell_h,
        );
        canvas.grey_image(test.image(i), IMAGE_SIDE, at, SCALE as u32);
        let label = match redrawn[i].digit {
            Some(d) => {
                canvas.grey_image(&d, IMAGE_SIDE, at + Point::new(side + 4, 0), SCALE as u32);
                format!("#{i}: {} ({})", answers[i], test.labels[i])
            }
            None => format!("#{i}: no ink ({})", test.labels[i]),
        };
        let red = Rgb888::new(200, 20, 20);
        canvas.text(
            &label,
            at + Point::new(side + 2, side + 3),
            &FONT_6X10,
            red,
            true,
        );
    }
    canvas
}

fn percent(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The "?" answer's table: what each candidate threshold does to the board's answers on the
/// redrawn digits, the rule's choice and the app's threshold.
fn print_confidence(redrawn: &[Redrawn], labels: &[u8]) {
    let predictions: Vec<_> = redrawn.iter().map(|r| r.prediction).collect();
    let chosen = choose_threshold(&predictions, labels);
    println!(
        "\nconfidence: the board's answer reads \"?\" when its top probability is below the threshold"
    );
    println!();
    println!(
        "| threshold | \"?\" shown | right answers lost | errors caught | errors shown | caught - lost |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for threshold in candidate_thresholds() {
        let row = ConfidenceRow::at(threshold, &predictions, labels);
        let marks = [
            (threshold == chosen, " (chosen)"),
            (threshold == CONFIDENCE_THRESHOLD, " (app)"),
        ];
        let mark: String = marks.iter().filter(|m| m.0).map(|m| m.1).collect();
        println!(
            "| {threshold:.2}{mark} | {} | {} | {} | {} | {} |",
            row.unsure,
            row.right_lost,
            row.errors_caught,
            row.errors_shown,
            row.gain()
        );
    }
    println!(
        "\nconfidence: chosen {chosen:.2} (most errors caught for the fewest right answers lost); \
         app::recognizer::CONFIDENCE_THRESHOLD is {CONFIDENCE_THRESHOLD:.2}"
    );
}

fn run(args: &Args) -> Result<(), String> {
    let test = test_set();
    let count = args.limit.min(test.len());
    let labels = &test.labels[..count];
    let board = BOARD_STAGE;
    let start = Instant::now();
    let redrawn = redraw_set(test, count, board_model()?, args.jitter)?;
    let no_ink: Vec<usize> = (0..count).filter(|&i| redrawn[i].digit.is_none()).collect();
    let broken = redrawn.iter().filter(|r| r.trace.pieces > 1).count();
    let strokes: usize = redrawn.iter().map(|r| r.trace.strokes.len()).sum();
    println!(
        "redrawn test set: the first {count} MNIST test digits as finger strokes through app's touch session ({}), {:.1} s",
        match args.jitter {
            None => "no panel noise".to_string(),
            Some(seed) => format!("panel noise, seed {seed}"),
        },
        start.elapsed().as_secs_f64()
    );
    println!(
        "trace: {} strokes ({:.2} per digit); {} digits with nothing to draw (counted wrong){}; \
         {broken} with broken ink (a skeleton in 2+ pieces, drawn as separate strokes)",
        strokes,
        strokes as f64 / count.max(1) as f64,
        no_ink.len(),
        if no_ink.is_empty() {
            String::new()
        } else {
            format!(": test digits {no_ink:?}")
        },
    );
    println!();
    println!("| stage | test int8 | test f32 | redrawn int8 | redrawn f32 | redrawn int8 errors |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let plain: Vec<Option<&[u8]>> = (0..count).map(|i| Some(test.image(i))).collect();
    let drawn: Vec<Option<&[u8]>> = redrawn
        .iter()
        .map(|r| r.digit.as_ref().map(|d| d.as_slice()))
        .collect();
    let mut board_result = None;
    for &stage in &args.stages {
        let (int8, f32) = (
            flat_model(stage, Variant::Int8)?,
            flat_model(stage, Variant::F32)?,
        );
        let drawn_int8 = answers(int8, &drawn)?;
        let cells = [
            accuracy(&answers(int8, &plain)?, labels),
            accuracy(&answers(f32, &plain)?, labels),
            accuracy(&drawn_int8, labels),
            accuracy(&answers(f32, &drawn)?, labels),
        ];
        let errors = drawn_int8
            .iter()
            .zip(labels)
            .filter(|(a, l)| a != l)
            .count();
        println!(
            "| {stage} | {} | {} | {} | {} | {errors} |",
            percent(cells[0]),
            percent(cells[1]),
            percent(cells[2]),
            percent(cells[3])
        );
        if stage == board {
            board_result = Some((cells[0], cells[2], drawn_int8));
        }
    }
    let (plain_int8, redrawn_int8, board_answers) =
        board_result.ok_or(format!("--stage must include the board's stage, {board}"))?;
    print_confidence(&redrawn, labels);
    let title = format!(
        "{board} int8 on redrawn test digits: errors (test digit | redrawn; answer (label))"
    );
    let grid = error_grid(test, &redrawn, &board_answers, &title);
    let path = args.grid();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    grid.save_png(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("\nwrote {}", path.display());
    println!(
        "redrawn: {board} int8 {} on {count} digits (plain {})",
        percent(redrawn_int8),
        percent(plain_int8)
    );
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redrawn: {e}");
            ExitCode::FAILURE
        }
    }
}
