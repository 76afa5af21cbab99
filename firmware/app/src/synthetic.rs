//! Synthetic finger strokes of the ten digits, drawn through the same touch path as a real
//! finger: the host tests, the QEMU check and the simulator use them.

use embedded_graphics::prelude::Point;

use crate::canvas::Canvas;
use crate::layout::Layout;
use crate::preprocess::DIGIT_SIDE;
use crate::session::{POLL_MS, Session, Update};
use crate::sketch::{SETTLE_MS, Sketch};
use runtime_nostd::InferError;

/// Polls with no touch between two strokes of a digit (100 ms: shorter than [`SETTLE_MS`]).
const POLLS_BETWEEN_STROKES: u64 = 10;

/// A stroke piece: a polyline of canvas points, or an elliptic arc (centre, radii, degrees).
enum Piece {
    Line(&'static [(f32, f32)]),
    Arc {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
        from: f32,
        to: f32,
    },
}

use Piece::{Arc, Line};

/// Each digit: strokes (finger down ... finger up), each a sequence of pieces.
fn strokes(digit: u8) -> &'static [&'static [Piece]] {
    match digit {
        0 => &[&[Arc {
            cx: 80.0,
            cy: 80.0,
            rx: 38.0,
            ry: 60.0,
            from: 0.0,
            to: 360.0,
        }]],
        1 => &[&[Line(&[(70.0, 35.0), (85.0, 20.0), (85.0, 140.0)])]],
        2 => &[&[
            Arc {
                cx: 80.0,
                cy: 55.0,
                rx: 35.0,
                ry: 32.0,
                from: 200.0,
                to: 380.0,
            },
            Line(&[(45.0, 140.0), (120.0, 140.0)]),
        ]],
        3 => &[&[
            Arc {
                cx: 78.0,
                cy: 50.0,
                rx: 32.0,
                ry: 30.0,
                from: 200.0,
                to: 450.0,
            },
            Arc {
                cx: 78.0,
                cy: 110.0,
                rx: 35.0,
                ry: 32.0,
                from: 270.0,
                to: 520.0,
            },
        ]],
        4 => &[
            &[Line(&[(95.0, 20.0), (40.0, 100.0), (120.0, 100.0)])],
            &[Line(&[(95.0, 50.0), (95.0, 140.0)])],
        ],
        5 => &[&[
            Line(&[(115.0, 22.0), (55.0, 22.0), (50.0, 75.0)]),
            Arc {
                cx: 78.0,
                cy: 102.0,
                rx: 36.0,
                ry: 36.0,
                from: 230.0,
                to: 500.0,
            },
        ]],
        6 => &[&[
            Line(&[(105.0, 25.0), (60.0, 80.0)]),
            Arc {
                cx: 80.0,
                cy: 110.0,
                rx: 32.0,
                ry: 30.0,
                from: 180.0,
                to: 540.0,
            },
        ]],
        7 => &[&[Line(&[(40.0, 25.0), (120.0, 25.0), (70.0, 140.0)])]],
        8 => &[
            &[Arc {
                cx: 80.0,
                cy: 52.0,
                rx: 28.0,
                ry: 30.0,
                from: 90.0,
                to: 450.0,
            }],
            &[Arc {
                cx: 80.0,
                cy: 112.0,
                rx: 34.0,
                ry: 30.0,
                from: -90.0,
                to: 270.0,
            }],
        ],
        _ => &[&[
            Arc {
                cx: 80.0,
                cy: 55.0,
                rx: 32.0,
                ry: 30.0,
                from: 0.0,
                to: 360.0,
            },
            Line(&[(112.0, 55.0), (105.0, 140.0)]),
        ]],
    }
}

/// How far the synthetic finger moves between two samples at most, in pixels: 8 px per 10 ms
/// poll is about 0.14 m/s on the 2.8" panel (5.6 px/mm), a brisk handwriting speed.
pub const FINGER_STEP: f32 = 8.0;

/// A finger moving along one stroke: [`Finger::to`] walks it in straight samples
/// [`FINGER_STEP`] apart at most (what the panel reports while it moves), and [`Finger::lift`]
/// ends the stroke. `touch` gets `Some(point)` for each sample and `None` for the lift.
pub struct Finger<T: FnMut(Option<(f32, f32)>)> {
    last: Option<(f32, f32)>,
    touch: T,
}

impl<T: FnMut(Option<(f32, f32)>)> Finger<T> {
    /// A finger off the screen, reporting to `touch`.
    pub fn new(touch: T) -> Self {
        Finger { last: None, touch }
    }

    /// Moves the finger (on the screen) to `p`, with the samples between.
    pub fn to(&mut self, p: (f32, f32)) {
        if let Some((x0, y0)) = self.last {
            let steps = libm::ceilf(libm::hypotf(p.0 - x0, p.1 - y0) / FINGER_STEP).max(1.0);
            for k in 1..steps as u16 {
                let t = f32::from(k) / steps;
                (self.touch)(Some((x0 + (p.0 - x0) * t, y0 + (p.1 - y0) * t)));
            }
        }
        (self.touch)(Some(p));
        self.last = Some(p);
    }

    /// Lifts the finger: the next [`Finger::to`] starts a new stroke.
    pub fn lift(&mut self) {
        self.last = None;
        (self.touch)(None);
    }
}

/// Walks the finger strokes of `digit` (0-9; others give a 9) in canvas coordinates: `touch`
/// gets `Some(point)` for each sample of a stroke, [`FINGER_STEP`] apart at most, and `None`
/// when the finger lifts after it.
pub fn strokes_of(digit: u8, touch: impl FnMut(Option<(f32, f32)>)) {
    const ARC_STEPS: u16 = 24;
    let mut finger = Finger::new(touch);
    for stroke in strokes(digit) {
        for piece in stroke.iter() {
            match piece {
                Line(points) => points.iter().for_each(|&p| finger.to(p)),
                Arc {
                    cx,
                    cy,
                    rx,
                    ry,
                    from,
                    to,
                } => {
                    for i in 0..=ARC_STEPS {
                        let a =
                            (from + (to - from) * f32::from(i) / f32::from(ARC_STEPS)).to_radians();
                        finger.to((cx + rx * libm::cosf(a), cy + ry * libm::sinf(a)));
                    }
                }
            }
        }
        finger.lift();
    }
}

/// Draws `digit` (0-9; others draw a 9) on `canvas` as finger strokes.
pub fn draw_digit(canvas: &mut Canvas, digit: u8) {
    strokes_of(digit, |point| match point {
        Some((x, y)) => {
            canvas.touch(x, y);
        }
        None => canvas.lift(),
    });
}

/// A finger drawing `digit` as a board sees it, one touch-panel poll every [`POLL_MS`]:
/// `Some(screen point)` for each sample of a stroke, `None` for 100 ms between strokes, and
/// after the last stroke `None` until [`SETTLE_MS`] has passed, so a [`Session`] stepped with
/// these polls (and a clock advancing [`POLL_MS`] per poll) recognises the digit once, at the end.
pub fn finger_polls(layout: &Layout, digit: u8, poll: impl FnMut(Option<Point>)) {
    drawing_polls(layout, |touch| strokes_of(digit, touch), poll);
}

/// The polls of any drawing, as [`finger_polls`] makes them of a digit: `draw` walks its
/// strokes in canvas coordinates (a [`Finger`] does the sampling), calling its argument with
/// `Some(point)` per sample and `None` per lift.
pub fn drawing_polls(
    layout: &Layout,
    draw: impl FnOnce(&mut dyn FnMut(Option<(f32, f32)>)),
    mut poll: impl FnMut(Option<Point>),
) {
    draw(&mut |point| match point {
        Some(p) => poll(Some(layout.screen_point(p))),
        None => (0..POLLS_BETWEEN_STROKES).for_each(|_| poll(None)),
    });
    (0..=SETTLE_MS.div_ceil(POLL_MS)).for_each(|_| poll(None));
}

/// A finger tapping the clear button as a board sees it: touching its centre for
/// [`CLEAR_TAP_POLLS`] polls, then lifted for as long.
pub fn clear_polls(layout: &Layout, mut poll: impl FnMut(Option<Point>)) {
    (0..CLEAR_TAP_POLLS).for_each(|_| poll(Some(layout.clear_button.center())));
    (0..CLEAR_TAP_POLLS).for_each(|_| poll(None));
}

/// Polls a tap on the clear button lasts (50 ms: a quick tap).
pub const CLEAR_TAP_POLLS: u64 = 5;

/// Steps `session` with the [`finger_polls`] of `digit` on a simulated clock (starting at 0,
/// [`POLL_MS`] per poll), handing every update to `on_update`: how a board would see the
/// finger, without the board.
pub fn draw_through_session<const SCRATCH: usize>(
    session: &mut Session<SCRATCH>,
    digit: u8,
    on_update: impl FnMut(&Session<SCRATCH>, &Update),
) -> Result<(), InferError> {
    replay_through_session(session, |touch| strokes_of(digit, touch), on_update)
}

/// [`draw_through_session`] for any drawing: `draw` walks its strokes as
/// [`drawing_polls`] describes.
pub fn replay_through_session<const SCRATCH: usize>(
    session: &mut Session<SCRATCH>,
    draw: impl FnOnce(&mut dyn FnMut(Option<(f32, f32)>)),
    mut on_update: impl FnMut(&Session<SCRATCH>, &Update),
) -> Result<(), InferError> {
    let mut result = Ok(());
    let layout = *session.layout();
    clocked_polls(&layout, draw, |touch, now_us| {
        match session.step(touch, &mut || now_us) {
            Ok(update) => on_update(session, &update),
            Err(e) => result = Err(e),
        }
    });
    result
}

/// [`drawing_polls`] on a simulated clock: `poll` also gets the time of each poll in
/// microseconds, [`POLL_MS`] after the last (the first at [`POLL_MS`]).
fn clocked_polls(
    layout: &Layout,
    draw: impl FnOnce(&mut dyn FnMut(Option<(f32, f32)>)),
    mut poll: impl FnMut(Option<Point>, u64),
) {
    let mut clock_us = 0u64;
    drawing_polls(layout, draw, |touch| {
        clock_us += POLL_MS * 1000;
        poll(touch, clock_us);
    });
}

/// The digit a [`Sketch`] laid out by `layout` settles on when `draw` (as for
/// [`drawing_polls`]) is polled into it on a simulated clock: what a session would hand its
/// model, without one. `None` when the drawing leaves no ink to centre.
pub fn sketch_of(
    layout: Layout,
    draw: impl FnOnce(&mut dyn FnMut(Option<(f32, f32)>)),
) -> Option<[u8; DIGIT_SIDE * DIGIT_SIDE]> {
    let mut sketch = Sketch::new(layout);
    clocked_polls(&layout, draw, |touch, now_us| {
        sketch.follow(touch, now_us);
    });
    sketch.digit().copied()
}
