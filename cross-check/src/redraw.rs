//! The redrawn test set: each MNIST test digit turned into finger strokes (crate `redraw`) and
//! replayed through the firmware's own touch session (`app::session`), model included, exactly
//! as a board runs it. What comes out is the 28x28 digit the board's model sees and its
//! answer, so the accuracy on these is the accuracy a user of the board experiences (up to how
//! people draw differently from how they write with a pen).

use app::preprocess::DIGIT_SIDE;
use app::recognizer::{Answer, Prediction};
use app::session::Session;
use app::synthetic::replay_through_session;
use redraw::{Jitter, Trace, layout, on_all_cores, trace_of, walk};
use runtime_nostd::Variant;
use trainer::artifacts::StageDir;
use trainer::data::Mnist;
use trainer::stages::Stage;

/// The scratch the host session gives the model (`Session::new` checks it is enough).
const SCRATCH: usize = 64 * 1024;

/// One test digit, redrawn.
#[derive(Debug, Clone)]
pub struct Redrawn {
    /// The strokes drawn.
    pub trace: Trace,
    /// What the session handed its model, or `None` when there was nothing to draw (no pixel
    /// reaches the ink threshold): a trace failure.
    pub digit: Option<[u8; DIGIT_SIDE * DIGIT_SIDE]>,
    /// What the session's model made of it (`None` with `digit`).
    pub prediction: Option<Prediction>,
}

/// Redraws a 28x28 MNIST `image` through a fresh session running `model` (a flat model file;
/// the digit it was given is the redrawn digit, its prediction what the board would answer).
pub fn redraw(
    image: &[u8],
    model: &'static [u8],
    jitter: Option<&mut Jitter>,
) -> Result<Redrawn, String> {
    let trace = trace_of(image);
    let mut session =
        Box::new(Session::<SCRATCH>::new(model, layout()).map_err(|e| e.to_string())?);
    replay_through_session(&mut session, |touch| walk(&trace, jitter, touch), |_, _| {})
        .map_err(|e| e.to_string())?;
    let screen = session.screen();
    Ok(Redrawn {
        trace,
        digit: screen.digit.copied(),
        prediction: screen.prediction,
    })
}

/// The first `count` digits of `test`, each redrawn through a session running `model`, on all
/// cores. With `jitter_seed`, digit `i` gets [`Jitter::for_digit`].
pub fn redraw_set(
    test: &Mnist,
    count: usize,
    model: &'static [u8],
    jitter_seed: Option<u64>,
) -> Result<Vec<Redrawn>, String> {
    let indices: Vec<usize> = (0..count.min(test.len())).collect();
    on_all_cores(&indices, |part| {
        part.iter()
            .map(|&i| {
                let mut jitter = jitter_seed.map(|seed| Jitter::for_digit(seed, i));
                redraw(test.image(i), model, jitter.as_mut())
            })
            .collect()
    })
}

/// A flat model file's answers (argmax) on `digits`; `None` digits (nothing drawn) get
/// [`NO_ANSWER`], which no label equals.
pub fn answers(model: &[u8], digits: &[Option<&[u8]>]) -> Result<Vec<u8>, String> {
    let model = runtime_nostd::Model::parse(model).map_err(|e| e.to_string())?;
    on_all_cores(digits, |part| {
        let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
        let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
        let mut probabilities = vec![0.0f32; model.classes()];
        part.iter()
            .map(|digit| match digit {
                None => Ok(NO_ANSWER),
                Some(d) => model
                    .infer(d, scratch, &mut probabilities)
                    .map(|class| class as u8)
                    .map_err(|e| e.to_string()),
            })
            .collect()
    })
}

/// The committed flat file `models/<stage>.<variant>.mnef`, kept for the life of the process (a
/// `Session` runs a `&'static` model, as a board's embedded one is).
pub fn flat_model(stage: Stage, variant: Variant) -> Result<&'static [u8], String> {
    let path = StageDir::new(&crate::root().join("models"), stage).flat(variant);
    let bytes = std::fs::read(&path).map_err(|e| {
        format!(
            "{}: {e}; export it with `cargo run -p trainer --release -- export --stage {stage}`",
            path.display()
        )
    })?;
    Ok(Box::leak(bytes.into_boxed_slice()))
}

/// The int8 file the boards embed (`model_embed::BOARD_STAGE`).
pub fn board_model() -> Result<&'static [u8], String> {
    flat_model(BOARD_STAGE, Variant::Int8)
}

/// The stage the boards embed.
pub const BOARD_STAGE: Stage = Stage::named(model_embed::BOARD_STAGE);

/// The answer recorded for a digit that could not be drawn.
pub const NO_ANSWER: u8 = u8::MAX;

/// The confidence thresholds [`choose_threshold`] tries: 0.30 to 0.95 by 0.05.
pub fn candidate_thresholds() -> impl Iterator<Item = f32> {
    // k / 20 is the f32 nearest each decimal, so a threshold written as a literal compares equal.
    (6..=19).map(|k| k as f32 / 20.0)
}

/// What a confidence threshold does to the answers on a set of digits: below it the screen
/// shows "?" (`app::recognizer::Answer::Unsure`) instead of the digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfidenceRow {
    /// Digits answered "?".
    pub unsure: usize,
    /// Of those, the ones whose digit would have been right: right answers lost.
    pub right_lost: usize,
    /// Of those, the ones whose digit would have been wrong: errors caught.
    pub errors_caught: usize,
    /// Wrong digits still shown (digits with nothing drawn count here).
    pub errors_shown: usize,
}

impl ConfidenceRow {
    /// `predictions` (the session's, `None` for nothing drawn) against `labels`, with "?" below
    /// `threshold`.
    pub fn at(threshold: f32, predictions: &[Option<Prediction>], labels: &[u8]) -> Self {
        let mut row = ConfidenceRow {
            unsure: 0,
            right_lost: 0,
            errors_caught: 0,
            errors_shown: 0,
        };
        for (prediction, &label) in predictions.iter().zip(labels) {
            let Some(prediction) = prediction else {
                row.errors_shown += 1;
                continue;
            };
            let right = prediction.digit == label;
            if matches!(prediction.answer_at(threshold), Answer::Unsure { .. }) {
                row.unsure += 1;
                if right {
                    row.right_lost += 1;
                } else {
                    row.errors_caught += 1;
                }
            } else if !right {
                row.errors_shown += 1;
            }
        }
        row
    }

    /// How much the "?" helps: errors caught minus right answers lost.
    pub fn gain(&self) -> isize {
        self.errors_caught as isize - self.right_lost as isize
    }
}

/// The threshold (of [`candidate_thresholds`]) whose "?" catches the most wrong answers for the
/// fewest right ones lost (the largest [`ConfidenceRow::gain`]; the lowest threshold on a tie,
/// since a "?" for a right answer annoys more than a wrong digit teaches).
pub fn choose_threshold(predictions: &[Option<Prediction>], labels: &[u8]) -> f32 {
    candidate_thresholds()
        .map(|t| (t, ConfidenceRow::at(t, predictions, labels).gain()))
        .fold((0.0, isize::MIN), |best, (t, gain)| {
            if gain > best.1 { (t, gain) } else { best }
        })
        .0
}

/// Fraction of `answers` equal to `labels`.
pub fn accuracy(answers: &[u8], labels: &[u8]) -> f64 {
    let right = answers.iter().zip(labels).filter(|(a, l)| a == l).count();
    right as f64 / answers.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(digit: u8, top: f32) -> Option<Prediction> {
        let mut probabilities = [(1.0 - top) / 9.0; 10];
        probabilities[usize::from(digit)] = top;
        Some(Prediction {
            digit,
            probabilities,
        })
    }

    #[test]
    fn the_threshold_rule_weighs_errors_caught_against_right_answers_lost() {
        // Right answers at 0.9 and 0.52; wrong ones at 0.53, 0.58 and 0.62; nothing drawn once.
        let predictions = [
            prediction(1, 0.9),
            prediction(2, 0.52),
            prediction(3, 0.53),
            prediction(4, 0.58),
            prediction(5, 0.62),
            None,
        ];
        let labels = [1, 2, 0, 0, 0, 7];
        let row = ConfidenceRow::at(0.6, &predictions, &labels);
        let expected = ConfidenceRow {
            unsure: 3,
            right_lost: 1,
            errors_caught: 2,
            errors_shown: 2,
        };
        assert_eq!(row, expected);
        // 0.65 catches all three errors for one right answer lost: the best gain, 2.
        assert_eq!(choose_threshold(&predictions, &labels), 0.65);
        // Only right answers below every threshold: a "?" never helps, the lowest one is kept.
        let sure = [prediction(1, 0.2)];
        assert_eq!(choose_threshold(&sure, &[1]), 0.3);
    }

    #[test]
    fn the_session_is_given_the_digit_the_sketch_settles_on() {
        let model = super::board_model().unwrap_or_else(|e| panic!("{e}"));
        let mut image = [0u8; 784];
        for i in 0..15 {
            image[(6 + i) * 28 + 8 + i] = 255;
            image[(6 + i) * 28 + 9 + i] = 255;
        }
        for seed in [None, Some(3)] {
            let jitter = || seed.map(Jitter::panel);
            let session = redraw(&image, model, jitter().as_mut()).unwrap();
            assert_eq!(session.digit, redraw::redraw(&image, jitter().as_mut()));
            assert!(session.prediction.is_some());
        }
        let blank = redraw(&[0; 784], model, None).unwrap();
        assert!(blank.digit.is_none() && blank.trace.strokes.is_empty());
    }
}
