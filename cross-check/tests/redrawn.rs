//! The redrawn test set in the test command, on a subset: the first 1,000 MNIST test digits
//! drawn as finger strokes through the firmware's touch session, then classified by the int8
//! model the boards embed (its exact error count, and what its "?" answer does) and by the
//! runner-up's, which it must beat. The full 10,000 (every stage, int8 and f32) is
//! `cargo run -p cross-check --release --bin redrawn`; README has its table.

use app::recognizer::{Answer, CONFIDENCE_THRESHOLD};
use cross_check::redraw::{
    BOARD_STAGE, ConfidenceRow, answers, board_model, flat_model, redraw_set,
};
use cross_check::test_set;
use runtime_nostd::Variant;
use trainer::stages::Stage;

/// Digits of the subset.
const SUBSET: usize = 1000;
/// Errors of the board's int8 model on the redrawn subset. Redrawing and int8 inference are
/// deterministic, so this is the measured count itself: a change to the redraw, the session,
/// preprocessing, the runtime or the model changes it, and the change is then stated here.
const BOARD_ERRORS: usize = 14;
/// What the app's "?" does on the subset (measured, deterministic like [`BOARD_ERRORS`]): one
/// error caught, one right answer lost; the full set's table is in docs/redrawn.md.
const CONFIDENCE_ON_SUBSET: ConfidenceRow = ConfidenceRow {
    unsure: 2,
    right_lost: 1,
    errors_caught: 1,
    errors_shown: BOARD_ERRORS - 1,
};
/// The stage the board's model was chosen over: the most accurate on redrawn digits before it.
const RUNNER_UP: Stage = Stage::named("cnn-bn-aug");

#[test]
fn the_board_model_reads_redrawn_digits_as_measured_and_beats_the_runner_up() {
    let model = board_model().unwrap_or_else(|e| panic!("{e}"));
    let test = test_set();
    let redrawn = redraw_set(test, SUBSET, model, None).unwrap();
    let no_ink = redrawn.iter().filter(|r| r.digit.is_none()).count();
    assert_eq!(no_ink, 0, "every digit of the subset has ink to draw");
    let digits: Vec<Option<&[u8]>> = redrawn
        .iter()
        .map(|r| r.digit.as_ref().map(|d| d.as_slice()))
        .collect();
    let labels = &test.labels[..SUBSET];
    let errors = |model: &[u8]| {
        let got = answers(model, &digits).unwrap();
        got.iter().zip(labels).filter(|(a, l)| a != l).count()
    };
    let board = errors(model);
    let runner_up = errors(flat_model(RUNNER_UP, Variant::Int8).unwrap_or_else(|e| panic!("{e}")));
    println!(
        "redrawn, first {SUBSET} digits, int8: {BOARD_STAGE} {board} errors, {RUNNER_UP} {runner_up}"
    );
    assert_eq!(
        board, BOARD_ERRORS,
        "{BOARD_STAGE}'s errors on the first {SUBSET} redrawn digits"
    );
    assert!(
        board < runner_up,
        "{BOARD_STAGE} ({board} errors) does not beat {RUNNER_UP} ({runner_up}) on redrawn digits"
    );
    // The confidence table counts a "?" exactly where the app's screen shows one.
    let predictions: Vec<_> = redrawn.iter().map(|r| r.prediction).collect();
    let shown_unsure = predictions
        .iter()
        .flatten()
        .filter(|p| matches!(p.answer(), Answer::Unsure { .. }))
        .count();
    let row = ConfidenceRow::at(CONFIDENCE_THRESHOLD, &predictions, labels);
    println!("redrawn, first {SUBSET} digits, \"?\" at {CONFIDENCE_THRESHOLD}: {row:?}");
    assert_eq!(row.unsure, shown_unsure);
    assert_eq!(row, CONFIDENCE_ON_SUBSET);
    // Redrawing is deterministic: the same strokes give the same digits.
    let again = redraw_set(test, 20, model, None).unwrap();
    for (a, b) in again.iter().zip(&redrawn) {
        assert_eq!(a.digit, b.digit);
    }
}

/// A partial or jittered run (whose errors are not the committed grid's) writes its grid under
/// target/, never over the committed `models/<board stage>/redrawn-errors.png`.
#[test]
fn a_partial_run_leaves_the_committed_grid_alone() {
    let committed = cross_check::root()
        .join("models")
        .join(BOARD_STAGE.name())
        .join("redrawn-errors.png");
    let before = std::fs::read(&committed).expect("the committed grid");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_redrawn"))
        .args([
            "--limit",
            "30",
            "--jitter",
            "7",
            "--stage",
            BOARD_STAGE.name(),
        ])
        .output()
        .expect("the redrawn binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let written = cross_check::root().join("target/redrawn/redrawn-errors-first30-jitter7.png");
    assert!(
        stdout.contains(&format!("wrote {}", written.display())) && written.is_file(),
        "{stdout}"
    );
    assert!(
        std::fs::read(&committed).unwrap() == before,
        "the committed grid changed"
    );
}
