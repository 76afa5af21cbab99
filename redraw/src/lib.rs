//! MNIST digits redrawn as finger strokes: each digit's centre line ([`skeleton`]) walked as a
//! pen would ([`trace`]), then replayed through the firmware's own touch pipeline exactly as a
//! board runs it: 10 ms polls, finger-thick anti-aliased strokes on the 160x160 canvas, the
//! settle time, MNIST's preprocessing (`app::sketch`). What comes out is the 28x28 digit a
//! board's model would be given for that drawing.
//!
//! Two users: the trainer adds the redrawn form of every training digit to the training set of
//! a stage whose recipe asks for it (the board's stroke style, learnt), and the cross-check's
//! redrawn test set replays the test digits through a whole `app::session::Session`, model
//! included, to measure what a board's user experiences.
//!
//! Optional [`Jitter`] adds what a resistive panel adds: position noise on every reading and
//! polls that read no touch at all (pressure dropping out), seeded.

pub mod skeleton;
pub mod trace;

use app::layout::Layout;
use app::preprocess::DIGIT_SIDE;
use app::synthetic::{Finger, sketch_of};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use trace::Trace;

/// Canvas pixels per pixel of the 28x28 frame: a digit's 20-pixel box becomes ~110 canvas
/// pixels, about the size the synthetic finger digits have, and the frame fits the canvas.
pub const CANVAS_SCALE: f32 = 5.5;

/// A digit as a board's model is given it (`app::preprocess::to_mnist`).
pub type Digit = [u8; DIGIT_SIDE * DIGIT_SIDE];

/// Panel noise added to a replay.
#[derive(Debug, Clone)]
pub struct Jitter {
    rng: StdRng,
    /// Each reading moves by up to this many canvas pixels on each axis (uniform).
    pub position_px: f32,
    /// Probability that a poll while the finger is down reads no touch.
    pub dropped_polls: f64,
}

impl Jitter {
    /// Readings off by up to 1.5 canvas pixels, 2% of polls dropped, from `seed`.
    pub fn panel(seed: u64) -> Self {
        Jitter {
            rng: StdRng::seed_from_u64(seed),
            position_px: 1.5,
            dropped_polls: 0.02,
        }
    }

    /// The noise of digit `index` of a set redrawn with `seed`: seeded with `seed + index`, so
    /// a digit's noise does not depend on how the set is split across threads.
    pub fn for_digit(seed: u64, index: usize) -> Self {
        Jitter::panel(seed.wrapping_add(index as u64))
    }

    /// What the panel reports for the finger at `sample` (canvas coordinates; `None`: lifted).
    fn reading(&mut self, sample: Option<(f32, f32)>) -> Option<(f32, f32)> {
        let (x, y) = sample?;
        if self.rng.random_bool(self.dropped_polls) {
            return None;
        }
        let r = self.position_px;
        let mut noise = || {
            if r > 0.0 {
                self.rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        Some((x + noise(), y + noise()))
    }
}

/// The board's layout (its 320x240 panel), which the replays draw on.
pub fn layout() -> Layout {
    Layout::for_screen(Layout::MIN_SCREEN).unwrap_or_else(|| {
        unreachable!("Layout::MIN_SCREEN is the screen the layout is designed for")
    })
}

/// Walks a finger along `trace`'s strokes, scaled by [`CANVAS_SCALE`] about the canvas centre:
/// `touch` gets each reading in canvas coordinates (through `jitter`, when given) and `None`
/// when the finger lifts, as `app::synthetic::drawing_polls` takes a drawing.
pub fn walk(
    trace: &Trace,
    mut jitter: Option<&mut Jitter>,
    touch: &mut dyn FnMut(Option<(f32, f32)>),
) {
    let half = (DIGIT_SIDE / 2) as f32;
    let centre = (app::canvas::SIDE / 2) as f32;
    let to_canvas = |(x, y): (f32, f32)| {
        (
            centre + (x - half) * CANVAS_SCALE,
            centre + (y - half) * CANVAS_SCALE,
        )
    };
    let mut finger = Finger::new(|sample| match jitter.as_deref_mut() {
        Some(jitter) => touch(jitter.reading(sample)),
        None => touch(sample),
    });
    for stroke in &trace.strokes {
        stroke.iter().for_each(|&p| finger.to(to_canvas(p)));
        finger.lift();
    }
}

/// The strokes of a 28x28 `image` (its [`skeleton`] traced).
pub fn trace_of(image: &[u8]) -> Trace {
    trace::trace(&skeleton::skeleton(image))
}

/// The digit a board's model would be given for `image` drawn by finger (through `jitter`,
/// when given); `None` when the image has no ink to draw.
pub fn redraw(image: &[u8], jitter: Option<&mut Jitter>) -> Option<Digit> {
    let trace = trace_of(image);
    sketch_of(layout(), |touch| walk(&trace, jitter, touch))
}

/// Each of `images` redrawn ([`redraw`]) on all cores, in order. With `jitter_seed`, image `i`
/// gets [`Jitter::for_digit`].
pub fn redraw_all(images: &[&[u8]], jitter_seed: Option<u64>) -> Vec<Option<Digit>> {
    let indexed: Vec<(usize, &[u8])> = images.iter().copied().enumerate().collect();
    on_all_cores(&indexed, |part| {
        Ok::<_, std::convert::Infallible>(
            part.iter()
                .map(|&(i, image)| {
                    let mut jitter = jitter_seed.map(|seed| Jitter::for_digit(seed, i));
                    redraw(image, jitter.as_mut())
                })
                .collect(),
        )
    })
    .unwrap_or_else(|never| match never {})
}

/// `work` on `items` split into one contiguous chunk per core, the results in order. `work`
/// gets a whole chunk, so it can set up per-thread state (scratch memory) once. A panic in a
/// worker is passed on.
pub fn on_all_cores<T: Sync, R: Send, E: Send>(
    items: &[T],
    work: impl Fn(&[T]) -> Result<Vec<R>, E> + Sync,
) -> Result<Vec<R>, E> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let work = &work;
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for worker in workers {
            match worker.join() {
                Ok(part) => all.extend(part?),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blank_digit_has_nothing_to_draw() {
        assert!(trace_of(&[0; 784]).strokes.is_empty());
        assert_eq!(redraw(&[0; 784], None), None);
    }

    #[test]
    fn a_redrawn_bar_comes_back_as_a_bar() {
        // A thick vertical bar: a 1.
        let mut image = [0u8; 784];
        for y in 5..23 {
            for x in 13..16 {
                image[y * 28 + x] = 255;
            }
        }
        assert_eq!(trace_of(&image).strokes.len(), 1);
        let digit = redraw(&image, None).expect("ink drawn");
        let ink_columns = (0..28)
            .filter(|&x| (0..28).any(|y| digit[y * 28 + x] > 128))
            .count();
        let ink_rows = (0..28)
            .filter(|&y| (0..28).any(|x| digit[y * 28 + x] > 128))
            .count();
        assert!(
            ink_rows >= 18 && ink_columns <= 5,
            "{ink_rows} rows, {ink_columns} columns"
        );
    }

    fn diagonal() -> [u8; 784] {
        let mut image = [0u8; 784];
        for i in 0..15 {
            image[(6 + i) * 28 + 8 + i] = 255;
            image[(6 + i) * 28 + 9 + i] = 255;
        }
        image
    }

    #[test]
    fn jitter_is_seeded() {
        let image = diagonal();
        let run = |seed| redraw(&image, Some(&mut Jitter::panel(seed)));
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), redraw(&image, None));
    }

    #[test]
    fn redrawing_on_all_cores_keeps_order_and_seeds() {
        let (bar, line) = (
            {
                let mut image = [0u8; 784];
                (5..23).for_each(|y| image[y * 28 + 14] = 255);
                image
            },
            diagonal(),
        );
        let images: Vec<&[u8]> = vec![&bar, &line, &[0; 784], &line];
        let all = redraw_all(&images, Some(7));
        let one_by_one: Vec<_> = images
            .iter()
            .enumerate()
            .map(|(i, image)| redraw(image, Some(&mut Jitter::panel(7 + i as u64))))
            .collect();
        assert_eq!(all, one_by_one);
        assert_eq!(all[2], None);
    }
}
