//! The touch calibration as a poll-driven state machine, like [`Session`](crate::session::Session):
//! a board that starts with a finger on the panel feeds each poll to [`Calibrator::step`] and
//! draws [`Calibrator::screen`] when a step says so. The prompt waits for the finger to lift,
//! then each of three crosses waits for a touch and a lift, then the fitted map (or the failure)
//! stays on screen with its coefficients until a tap, and the step returns the calibration to
//! use.
//!
//! ```
//! use app::calibration::{Calibrator, Event};
//! use app::layout::Layout;
//! use app::touch::{Calibration, RawPoint};
//! use embedded_graphics::prelude::Size;
//!
//! let layout = Layout::for_screen(Size::new(320, 240)).unwrap();
//! let default = Calibration { coefficients: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0] };
//! let mut calibrator = Calibrator::new(&layout, default);
//! let step = calibrator.step(None, 0);
//! assert_eq!(step.event, None);
//! ```

use embedded_graphics::prelude::Point;

use crate::layout::Layout;
use crate::touch::{Calibration, CalibrationError, RawPoint};

/// How long the finger must stay off the panel before the next cross shows: a lift, not a
/// reading lost while it presses.
pub const RELEASE_MS: u64 = 300;

/// Which touch calibration a board runs with: its first screen says so for
/// [`NOTICE_MS`](crate::session::NOTICE_MS), with how to calibrate again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Source {
    /// The record an earlier calibration stored in flash.
    Stored,
    /// The board's built-in default: nothing is stored.
    Default,
    /// The built-in default, because what is stored is no valid record (corrupt, torn, another
    /// version): never a garbage map.
    DefaultStoredUnreadable,
}

impl Source {
    /// What the first screen says about it.
    pub fn notice(self) -> &'static str {
        match self {
            Source::Stored => "Touch calibration: stored.",
            Source::Default => "Touch calibration: default.",
            Source::DefaultStoredUnreadable => {
                "Stored touch calibration unreadable: default in use."
            }
        }
    }
}

/// What the first screen says after [`Source::notice`].
pub const RECALIBRATE_HINT: &str = "Hold a finger on the screen at power-up to calibrate.";

/// What the panel said at one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// The pen-down line says something touches.
    pub pressed: bool,
    /// The controller's filtered reading, when it gave one (a light or moving touch gives none).
    pub reading: Option<RawPoint>,
}

/// What the calibration screen shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalibrationScreen {
    /// Asks to lift the finger held at power-up.
    Prompt,
    /// A cross to touch: the `index`th of three, at `point`.
    Target {
        /// 0, 1 or 2.
        index: usize,
        /// Its centre.
        point: Point,
    },
    /// The result: the fitted map, or why there is none (the default is kept).
    Done(Result<Calibration, CalibrationError>),
}

/// What happened at a step, for the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// Cross `index` at `target` was touched and read `raw`.
    Touched {
        /// 0, 1 or 2.
        index: usize,
        /// The cross.
        target: Point,
        /// The reading.
        raw: RawPoint,
    },
    /// The three touches gave this map, or could not.
    Fitted(Result<Calibration, CalibrationError>),
    /// The calibration is over: use this map (the fitted one, or the default).
    Finished(Calibration),
}

/// What a step changed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Step {
    /// The screen changed: draw [`Calibrator::screen`].
    pub redraw: bool,
    /// What happened, if anything.
    pub event: Option<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Waiting for the finger to stay off for [`RELEASE_MS`]; then cross `next` (or the fit).
    AwaitRelease { next: usize, since: Option<u64> },
    /// Cross `index` is shown, waiting for a reading.
    AwaitTouch { index: usize },
    /// The result is shown; `pressed` once the tap that ends it has begun.
    Done {
        result: Result<Calibration, CalibrationError>,
        pressed: bool,
    },
}

/// The calibration in progress.
#[derive(Debug, Clone)]
pub struct Calibrator {
    targets: [Point; 3],
    raw: [RawPoint; 3],
    fallback: Calibration,
    state: State,
}

impl Calibrator {
    /// Starts at the prompt (a finger is on the panel); `fallback` is kept if the touches cannot
    /// be fitted.
    pub fn new(layout: &Layout, fallback: Calibration) -> Self {
        Calibrator {
            targets: layout.calibration_targets(),
            raw: [RawPoint { x: 0, y: 0 }; 3],
            fallback,
            state: State::AwaitRelease {
                next: 0,
                since: None,
            },
        }
    }

    /// What to draw.
    pub fn screen(&self) -> CalibrationScreen {
        match self.state {
            State::AwaitRelease { next: 0, .. } => CalibrationScreen::Prompt,
            State::AwaitRelease { next, .. } => self.target_screen(next - 1),
            State::AwaitTouch { index } => self.target_screen(index),
            State::Done { result, .. } => CalibrationScreen::Done(result),
        }
    }

    fn target_screen(&self, index: usize) -> CalibrationScreen {
        CalibrationScreen::Target {
            index,
            point: self.targets.get(index).copied().unwrap_or_default(),
        }
    }

    /// One poll of the panel: `pressed` from the pen-down line with the reading if any
    /// (`None` stands for "not pressed"), at `now_us` microseconds.
    pub fn step(&mut self, poll: Option<Poll>, now_us: u64) -> Step {
        let pressed = poll.is_some_and(|p| p.pressed);
        match self.state {
            State::AwaitRelease { next, since } => {
                if pressed {
                    self.state = State::AwaitRelease { next, since: None };
                    return Step::default();
                }
                let since = since.unwrap_or(now_us);
                if now_us.saturating_sub(since) < RELEASE_MS * 1000 {
                    self.state = State::AwaitRelease {
                        next,
                        since: Some(since),
                    };
                    return Step::default();
                }
                if next < self.targets.len() {
                    self.state = State::AwaitTouch { index: next };
                    return Step {
                        redraw: true,
                        event: None,
                    };
                }
                let result = Calibration::from_touches(self.targets, self.raw);
                self.state = State::Done {
                    result,
                    pressed: false,
                };
                Step {
                    redraw: true,
                    event: Some(Event::Fitted(result)),
                }
            }
            State::AwaitTouch { index } => {
                let reading = poll.filter(|p| p.pressed).and_then(|p| p.reading);
                let (Some(raw), Some(slot)) = (reading, self.raw.get_mut(index)) else {
                    return Step::default();
                };
                *slot = raw;
                self.state = State::AwaitRelease {
                    next: index + 1,
                    since: None,
                };
                Step {
                    redraw: false,
                    event: Some(Event::Touched {
                        index,
                        target: self.targets.get(index).copied().unwrap_or_default(),
                        raw,
                    }),
                }
            }
            State::Done {
                result,
                pressed: was_pressed,
            } => {
                if pressed || !was_pressed {
                    self.state = State::Done {
                        result,
                        pressed: was_pressed || pressed,
                    };
                    return Step::default();
                }
                Step {
                    redraw: false,
                    event: Some(Event::Finished(result.unwrap_or(self.fallback))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::prelude::Size;

    const POLL_US: u64 = 10_000;

    fn layout() -> Layout {
        Layout::for_screen(Size::new(320, 240)).unwrap()
    }

    const IDENTITY: Calibration = Calibration {
        coefficients: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    /// A panel whose raw reading of screen point p is (4 p.x + 100, 3 p.y + 200).
    fn reading(p: Point) -> RawPoint {
        RawPoint {
            x: (4 * p.x + 100) as u16,
            y: (3 * p.y + 200) as u16,
        }
    }

    struct Run {
        calibrator: Calibrator,
        now: u64,
        events: Vec<Event>,
        redraws: usize,
    }

    impl Run {
        fn poll(&mut self, poll: Option<Poll>) {
            self.now += POLL_US;
            let step = self.calibrator.step(poll, self.now);
            self.redraws += usize::from(step.redraw);
            self.events.extend(step.event);
        }

        fn hold(&mut self, poll: Option<Poll>, polls: usize) {
            (0..polls).for_each(|_| self.poll(poll));
        }

        fn touch(&mut self, at: Point) {
            let press = Poll {
                pressed: true,
                reading: Some(reading(at)),
            };
            self.hold(Some(press), 5);
            self.hold(None, 40);
        }
    }

    fn run() -> Run {
        Run {
            calibrator: Calibrator::new(&layout(), IDENTITY),
            now: 0,
            events: Vec::new(),
            redraws: 0,
        }
    }

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn three_touches_fit_the_map_and_a_tap_ends_it() {
        let mut run = run();
        let held = Poll {
            pressed: true,
            reading: None,
        };
        run.hold(Some(held), 50);
        assert_eq!(run.calibrator.screen(), CalibrationScreen::Prompt);
        assert_eq!(run.redraws, 0, "the prompt stays while the finger is held");
        run.hold(None, 31);
        let targets = layout().calibration_targets();
        for (i, &target) in targets.iter().enumerate() {
            assert_eq!(
                run.calibrator.screen(),
                CalibrationScreen::Target {
                    index: i,
                    point: target
                }
            );
            run.touch(target);
        }
        let Some(&Event::Fitted(Ok(fitted))) = run.events.get(3) else {
            panic!("no fit: {:?}", run.events);
        };
        for &target in &targets {
            assert_eq!(fitted.to_screen(reading(target)), target);
        }
        assert_eq!(run.calibrator.screen(), CalibrationScreen::Done(Ok(fitted)));
        assert_eq!(run.redraws, 4, "three crosses and the result");
        run.hold(None, 100);
        assert_eq!(run.events.len(), 4, "the result stays until a tap");
        run.touch(Point::new(160, 120));
        assert_eq!(run.events.last(), Some(&Event::Finished(fitted)));
        assert!(matches!(
            run.events[0],
            Event::Touched { index: 0, target, raw } if target == targets[0] && raw == reading(targets[0])
        ));
    }

    #[test]
    fn a_press_without_a_reading_is_not_a_touch_and_a_short_lift_is_not_a_release() {
        let mut run = run();
        run.hold(None, 31);
        let light = Poll {
            pressed: true,
            reading: None,
        };
        run.hold(Some(light), 20);
        assert!(run.events.is_empty());
        let target = layout().calibration_targets()[0];
        run.hold(
            Some(Poll {
                pressed: true,
                reading: Some(reading(target)),
            }),
            1,
        );
        assert_eq!(run.events.len(), 1);
        // Lifted 100 ms, pressed again: still cross 1 (no second cross yet).
        run.hold(None, 10);
        run.hold(Some(light), 3);
        run.hold(None, 10);
        assert_eq!(
            run.calibrator.screen(),
            CalibrationScreen::Target {
                index: 0,
                point: target
            }
        );
    }

    #[test]
    fn touches_on_a_line_keep_the_default() {
        let mut run = run();
        run.hold(None, 31);
        let same = Poll {
            pressed: true,
            reading: Some(RawPoint { x: 2000, y: 2000 }),
        };
        for _ in 0..3 {
            run.hold(Some(same), 3);
            run.hold(None, 40);
        }
        assert_eq!(
            run.calibrator.screen(),
            CalibrationScreen::Done(Err(CalibrationError::Collinear))
        );
        run.hold(Some(same), 3);
        run.hold(None, 1);
        assert_eq!(run.events.last(), Some(&Event::Finished(IDENTITY)));
    }
}
