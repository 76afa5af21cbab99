//! The board's poll loop (`app::controller`) on the host, with a scripted touch panel and
//! calibration storage: power-up with each stored state, the calibration from a finger at
//! power-up to a fit kept (or not) and in use, recognition through it, and the log lines the
//! board emulator reads. Also the screens the controller draws while calibrating.

use app::calibration::{RELEASE_MS, Source};
use app::controller::{
    CalibrationStorage, Controller, KEPT_NOTE, NOT_KEPT_NOTE, Report, Severity, TouchPanel,
};
use app::session::{POLL_MS, Session};
use app::touch::{Calibration, RawPoint};
use app::ui;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;

mod common;
use common::{Framebuffer, SCRATCH, layout, model};

/// A panel whose raw reading of screen point p is (4 p.x + 100, 3 p.y + 200).
fn raw_of(p: Point) -> RawPoint {
    RawPoint {
        x: (4 * p.x + 100) as u16,
        y: (3 * p.y + 200) as u16,
    }
}

/// The touch panel as the test scripts it.
#[derive(Debug, Default)]
struct ScriptedPanel {
    /// What it reads while pressed (`None`: pressed too lightly to read).
    touch: Option<Option<RawPoint>>,
    /// The next read fails.
    fail: bool,
}

impl TouchPanel for ScriptedPanel {
    type Error = ();

    fn pressed(&mut self) -> bool {
        self.touch.is_some()
    }

    fn read(&mut self) -> Result<Option<RawPoint>, ()> {
        if std::mem::take(&mut self.fail) {
            return Err(());
        }
        Ok(self.touch.flatten())
    }
}

/// Storage in memory: what power-up finds, and what was saved.
#[derive(Debug)]
struct Memory {
    finds: Result<Option<Calibration>, &'static str>,
    refuses: bool,
    saved: Option<Calibration>,
}

impl Memory {
    fn finding(finds: Result<Option<Calibration>, &'static str>) -> Self {
        Memory {
            finds,
            refuses: false,
            saved: None,
        }
    }
}

impl CalibrationStorage for Memory {
    type Error = &'static str;

    fn load(&mut self) -> Result<Option<Calibration>, &'static str> {
        self.finds
    }

    fn save(&mut self, calibration: &Calibration) -> Result<(), &'static str> {
        if self.refuses {
            return Err("worn out");
        }
        self.saved = Some(*calibration);
        Ok(())
    }

    fn flash_offset(&self) -> u32 {
        4_190_208
    }
}

/// A controller on a framebuffer with a 10 ms poll clock.
struct Board {
    controller: Controller<ScriptedPanel, Memory, SCRATCH>,
    screen: Framebuffer,
    now_us: u64,
    log: Vec<Report<&'static str>>,
}

impl Board {
    fn power_up(memory: Memory, finger: bool) -> Self {
        let session = Session::new(model(), layout()).unwrap();
        let panel = ScriptedPanel {
            touch: finger.then_some(None),
            fail: false,
        };
        let mut log = Vec::new();
        let now_us = 1_000_000;
        let default = Calibration::swapped_axes((3880.0, 340.0), (262.0, 3850.0), 320.0, 240.0);
        let controller = Controller::start(panel, memory, session, default, now_us, &mut |r| {
            log.push(r)
        });
        let mut screen = Framebuffer::new();
        controller.draw(&mut screen).unwrap();
        Board {
            controller,
            screen,
            now_us,
            log,
        }
    }

    /// One poll with the finger at `at` (screen pixels, read through [`raw_of`]) or lifted.
    fn poll(&mut self, at: Option<Point>) -> Vec<Report<&'static str>> {
        self.controller.panel_mut().touch = at.map(|p| Some(raw_of(p)));
        self.now_us += POLL_MS * 1000;
        let clock = self.now_us;
        let mut reports = Vec::new();
        self.controller
            .poll(&mut || clock, &mut self.screen, &mut |r| reports.push(r));
        self.log.extend(reports.iter().copied());
        reports
    }

    /// Polls with the finger lifted for `ms`.
    fn lifted_for(&mut self, ms: u64) {
        for _ in 0..=ms / POLL_MS {
            self.poll(None);
        }
    }

    /// Touches each calibration cross in turn, then taps the result away.
    fn calibrate(&mut self) {
        for target in layout().calibration_targets() {
            self.lifted_for(RELEASE_MS);
            self.poll(Some(target));
        }
        self.lifted_for(RELEASE_MS);
        self.poll(Some(Point::new(160, 120)));
        self.poll(None);
    }
}

#[test]
fn power_up_reports_the_calibration_in_use_and_shows_its_notice() {
    let stored = Calibration::IDENTITY;
    for (finds, report, source) in [
        (
            Ok(Some(stored)),
            Report::StoredCalibration(stored),
            Source::Stored,
        ),
        (Ok(None), Report::DefaultCalibration, Source::Default),
        (
            Err("bad CRC"),
            Report::StoredCalibrationUnreadable("bad CRC"),
            Source::DefaultStoredUnreadable,
        ),
    ] {
        let board = Board::power_up(Memory::finding(finds), false);
        assert_eq!(board.log, [report]);
        assert!(!board.controller.calibrating());
        assert_eq!(board.controller.session().screen().notice, Some(source));
    }
}

#[test]
fn a_finger_at_power_up_calibrates_keeps_the_fit_and_uses_it() {
    let mut board = Board::power_up(Memory::finding(Ok(None)), true);
    assert!(board.controller.calibrating());
    board.calibrate();
    assert!(!board.controller.calibrating());
    let touched = board
        .log
        .iter()
        .filter(|r| matches!(r, Report::CrossTouched { .. }));
    assert_eq!(touched.count(), 3, "{:?}", board.log);
    let Some(Report::CalibrationFitted(fitted)) = board
        .log
        .iter()
        .find(|r| matches!(r, Report::CalibrationFitted(_)))
    else {
        panic!("no fit: {:?}", board.log)
    };
    // The fit inverts the panel: (4x + 100, 3y + 200) back to (x, y).
    let [a, b, c, d, e, f] = fitted.coefficients;
    let expected = [0.25, 0.0, -25.0, 0.0, 1.0 / 3.0, -200.0 / 3.0];
    for (got, want) in [a, b, c, d, e, f].iter().zip(expected) {
        assert!((got - want).abs() < 1e-3, "{:?}", fitted.coefficients);
    }
    assert!(board.log.contains(&Report::CalibrationStored {
        flash_offset: 4_190_208
    }));
    assert_eq!(board.controller.storage().saved, Some(*fitted));

    // In use: a digit drawn through the panel's raw readings is recognised.
    let mut polls = Vec::new();
    app::synthetic::finger_polls(&layout(), 3, |touch| polls.push(touch));
    let recognised: Vec<_> = polls
        .into_iter()
        .flat_map(|touch| board.poll(touch))
        .filter(|r| matches!(r, Report::Recognised { .. }))
        .collect();
    assert!(
        matches!(recognised[..], [Report::Recognised { digit: 3, .. }]),
        "{recognised:?}"
    );
}

#[test]
fn a_fit_the_storage_refuses_holds_until_the_next_reset() {
    let mut memory = Memory::finding(Ok(None));
    memory.refuses = true;
    let mut board = Board::power_up(memory, true);
    board.calibrate();
    assert!(
        board
            .log
            .contains(&Report::CalibrationNotStored("worn out"))
    );
    assert!(!board.controller.calibrating());
}

#[test]
fn a_failed_touch_read_skips_the_poll_and_says_so() {
    let mut board = Board::power_up(Memory::finding(Ok(None)), false);
    board.controller.panel_mut().fail = true;
    board.controller.panel_mut().touch = Some(Some(raw_of(Point::new(90, 100))));
    board.now_us += POLL_MS * 1000;
    let mut reports = Vec::new();
    let clock = board.now_us;
    board
        .controller
        .poll(&mut || clock, &mut board.screen, &mut |r| reports.push(r));
    assert_eq!(reports, [Report::TouchReadFailed]);
    assert_eq!(reports[0].severity(), Severity::Warn);
    // The notice is still up: the failed poll did not reach the session.
    assert!(board.controller.session().screen().notice.is_some());
}

#[test]
fn the_log_lines_are_the_ones_the_board_emulator_reads() {
    let lines = [
        (
            Report::Recognised {
                digit: 7,
                us: 12345,
            },
            "recognised 7 in 12345 us",
        ),
        (
            Report::StoredCalibration(Calibration::IDENTITY),
            "touch calibration: stored in flash, [1.00000, 0.00000, 0.00000, 0.00000, 1.00000, 0.00000]",
        ),
        (
            Report::CalibrationFitted(Calibration {
                coefficients: [-0.0001, -0.0904, 350.7, 0.0669, 0.0002, -17.52],
            }),
            "calibration coefficients: [-0.00010, -0.09040, 350.70000, 0.06690, 0.00020, -17.52000]",
        ),
        (
            Report::CalibrationNotStored("worn out"),
            "calibration not stored (worn out): it holds until the next reset",
        ),
        (
            Report::StoredCalibrationUnreadable("bad CRC"),
            "touch calibration: the default, the stored one is unreadable (bad CRC)",
        ),
    ];
    for (report, line) in lines {
        assert_eq!(report.to_string(), line);
    }
}

#[test]
fn a_digit_drawn_through_the_controller_gives_the_sessions_screen() {
    let mut board = Board::power_up(Memory::finding(Ok(Some(Calibration::IDENTITY))), false);
    // The same finger straight into a session, drawn from scratch at the end.
    let mut session = Session::<SCRATCH>::new(model(), layout()).unwrap();
    app::synthetic::draw_through_session(&mut session, 5, |_, _| {}).unwrap();
    // Through the controller, with the stored (identity) calibration and redraws only.
    let mut polls = Vec::new();
    app::synthetic::finger_polls(&layout(), 5, |touch| polls.push(touch));
    for touch in polls {
        let raw = touch.map(|p| {
            Some(RawPoint {
                x: p.x as u16,
                y: p.y as u16,
            })
        });
        board.controller.panel_mut().touch = raw;
        board.now_us += POLL_MS * 1000;
        let clock = board.now_us;
        board
            .controller
            .poll(&mut || clock, &mut board.screen, &mut |_| {});
    }
    let mut expected = Framebuffer::new();
    ui::draw(&session.screen(), &mut expected).unwrap();
    let time = ui::time_area(&layout());
    let w = layout().screen.width;
    let differing = (0..expected.pixels().len())
        .filter(|&i| {
            let p = Point::new((i as u32 % w) as i32, (i as u32 / w) as i32);
            !time.contains(p) && expected.pixels()[i] != board.screen.pixels()[i]
        })
        .count();
    assert_eq!(differing, 0);
}
#[test]
fn every_calibration_screen_draws_its_text_inside_the_screen() {
    use app::calibration::CalibrationScreen;
    use app::touch::{Calibration, CalibrationError};
    use app::ui::draw_calibration;

    let layout = layout();
    let fitted = Calibration {
        coefficients: [-0.0001, -0.0904, 350.7, 0.0669, 0.0002, -17.52],
    };
    let screens = [
        CalibrationScreen::Prompt,
        CalibrationScreen::Target {
            index: 1,
            point: layout.calibration_targets()[1],
        },
        CalibrationScreen::Done(Ok(fitted)),
        CalibrationScreen::Done(Err(CalibrationError::Collinear)),
    ];
    for screen in screens {
        let mut fb = Framebuffer::new();
        draw_calibration(&screen, &layout, &mut fb).unwrap();
        let lit = fb.pixels().iter().filter(|&&c| c == Rgb565::WHITE).count();
        assert!(lit > 200, "{screen:?}: {lit} white pixels");
        // Text stays off the screen's outer 8 px.
        let w = layout.screen.width;
        for (i, &c) in fb.pixels().iter().enumerate() {
            let (x, y) = (i as u32 % w, i as u32 / w);
            let edge = x < 8 || y < 8 || x >= w - 8 || y >= layout.screen.height - 8;
            assert!(
                !(edge && c == Rgb565::WHITE),
                "{screen:?}: text at ({x}, {y})"
            );
        }
    }
}

#[test]
fn the_calibration_notice_stays_in_the_results_panel_until_a_touch_or_its_time() {
    use app::calibration::Source;
    use app::session::NOTICE_MS;
    use app::ui::{draw, redraw};

    let layout = layout();
    let blank = {
        let session = Session::<SCRATCH>::new(model(), layout).unwrap();
        let mut fb = Framebuffer::new();
        draw(&session.screen(), &mut fb).unwrap();
        fb
    };
    let mut shown = Vec::new();
    for source in [
        Source::Stored,
        Source::Default,
        Source::DefaultStoredUnreadable,
    ] {
        let mut session = Session::<SCRATCH>::new(model(), layout).unwrap();
        session.show_notice(source, 1_000_000);
        let mut fb = Framebuffer::new();
        draw(&session.screen(), &mut fb).unwrap();
        // Only the results panel differs from the blank screen, and not where the time goes.
        let w = layout.screen.width;
        let changed: Vec<Point> = (0..fb.pixels().len())
            .filter(|&i| fb.pixels()[i] != blank.pixels()[i])
            .map(|i| Point::new((i as u32 % w) as i32, (i as u32 / w) as i32))
            .collect();
        assert!(changed.len() > 300, "{source:?}: {} pixels", changed.len());
        for p in &changed {
            assert!(layout.results_area.contains(*p), "{source:?}: text at {p}");
            assert!(!ui::time_area(&layout).contains(*p), "{source:?}: at {p}");
        }
        shown.push(fb.pixels().to_vec());

        // It stays while nothing touches, goes at its time, with a redraw of the panel.
        let at = |us: u64| move || us;
        let update = session
            .step(None, &mut at(1_000_000 + NOTICE_MS * 1000 - 1))
            .unwrap();
        assert!(!update.results && session.screen().notice == Some(source));
        let update = session
            .step(None, &mut at(1_000_000 + NOTICE_MS * 1000))
            .unwrap();
        assert!(update.results && session.screen().notice.is_none());
        redraw(&session.screen(), &update, &mut fb).unwrap();
        assert!(
            fb.pixels() == blank.pixels(),
            "{source:?}: the panel is blank again"
        );

        // A touch ends it at once.
        session.show_notice(source, 0);
        let update = session
            .step(Some(layout.canvas_origin + Point::new(50, 50)), &mut at(10))
            .unwrap();
        assert!(update.results && session.screen().notice.is_none());
    }
    assert!(shown[0] != shown[1] && shown[1] != shown[2] && shown[0] != shown[2]);
}

#[test]
fn the_note_under_the_calibration_result_stays_clear_of_the_result() {
    use app::calibration::CalibrationScreen;
    use app::touch::Calibration;
    use app::ui::{draw_calibration, draw_calibration_note};

    let layout = layout();
    let done = CalibrationScreen::Done(Ok(Calibration {
        coefficients: [-0.0001, -0.0904, 350.7, 0.0669, 0.0002, -17.52],
    }));
    let mut result = Framebuffer::new();
    draw_calibration(&done, &layout, &mut result).unwrap();
    let lowest_text = result
        .pixels()
        .iter()
        .rposition(|&c| c == Rgb565::WHITE)
        .map(|i| i as u32 / layout.screen.width)
        .unwrap();
    for note in [KEPT_NOTE, NOT_KEPT_NOTE] {
        let mut fb = Framebuffer::new();
        draw_calibration(&done, &layout, &mut fb).unwrap();
        draw_calibration_note(note, &layout, &mut fb).unwrap();
        let w = layout.screen.width;
        let changed: Vec<(u32, u32)> = (0..fb.pixels().len())
            .filter(|&i| fb.pixels()[i] != result.pixels()[i])
            .map(|i| (i as u32 % w, i as u32 / w))
            .collect();
        assert!(changed.len() > 100, "{note}: {} pixels", changed.len());
        for &(x, y) in &changed {
            assert!(
                y > lowest_text + 2,
                "{note}: ({x}, {y}) under the result's text"
            );
            assert!(
                x >= 8 && x < w - 8 && y < layout.screen.height - 8,
                "{note}: ({x}, {y})"
            );
        }
    }
}
