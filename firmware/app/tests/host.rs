//! The app pipeline on the host: strokes on the canvas, MNIST-style preprocessing, and the
//! embedded int8 model, checked against the MNIST test set and synthetic finger strokes.

use app::canvas::{Canvas, SIDE};
use app::fault::Fault;
use app::preprocess::{DIGIT_SIDE, bounding_box, to_mnist};
use app::recognizer::RecognizerError;
use app::session::Session;
use app::ui;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use mnist_files::{Checksum, Mnist, Split};

mod common;
use common::{Framebuffer, SCRATCH, layout, model, recognizer, root};

/// The first `n` MNIST test digits (28x28 bytes each) and labels.
fn mnist_test(n: usize) -> (Vec<[u8; 784]>, Vec<u8>) {
    let test = Mnist::load(&root().join("data/mnist"), Split::Test, Checksum::Verify)
        .unwrap_or_else(|e| panic!("{e}"));
    let digits = (0..n).map(|i| test.image(i).try_into().unwrap()).collect();
    (digits, test.labels[..n].to_vec())
}

/// Draws an MNIST digit `scale` times larger onto a canvas-sized image, at an offset.
fn upscale(digit: &[u8; 784], scale: usize, (ox, oy): (usize, usize)) -> Vec<u8> {
    let mut out = vec![0u8; SIDE * SIDE];
    for y in 0..DIGIT_SIDE * scale {
        for x in 0..DIGIT_SIDE * scale {
            if let Some(p) = out.get_mut((oy + y) * SIDE + ox + x) {
                *p = digit[(y / scale) * DIGIT_SIDE + x / scale];
            }
        }
    }
    out
}

#[test]
fn strokes_are_thick_and_anti_aliased() {
    let mut canvas = Canvas::new();
    assert!(canvas.is_blank());
    canvas.touch(40.0, 80.0);
    canvas.touch(120.0, 80.0);
    canvas.lift();
    assert_eq!(canvas.at(80, 80), 255);
    let thickness = (60..100).filter(|&y| canvas.at(80, y) > 127).count();
    assert!(
        (13..=16).contains(&thickness),
        "stroke is {thickness} px thick"
    );
    assert!(
        canvas.pixels().iter().any(|&p| p > 0 && p < 255),
        "edges have grey levels"
    );
    canvas.clear();
    assert!(canvas.is_blank());
}

/// The shift (within 2 px) that best aligns `b` onto `a`, and the summed |difference| there.
fn best_alignment(a: &[u8; 784], b: &[u8; 784]) -> ((i32, i32), u32) {
    let at = |img: &[u8; 784], x: i32, y: i32| {
        if (0..28).contains(&x) && (0..28).contains(&y) {
            u32::from(img[(y * 28 + x) as usize])
        } else {
            0
        }
    };
    let shifts = (-2..=2).flat_map(|dy| (-2..=2).map(move |dx| (dx, dy)));
    shifts
        .map(|(dx, dy)| {
            let diff = (0..28)
                .flat_map(|y| (0..28).map(move |x| (x, y)))
                .map(|(x, y)| at(a, x, y).abs_diff(at(b, x + dx, y + dy)))
                .sum();
            ((dx, dy), diff)
        })
        .min_by_key(|&(_, d)| d)
        .unwrap()
}

#[test]
fn preprocessing_reproduces_mnist_digits_drawn_large_anywhere() {
    let (digits, labels) = mnist_test(200);
    let mut recognizer = recognizer();
    let (mut agree, mut correct) = (0, 0);
    for (i, (digit, &label)) in digits.iter().zip(&labels).enumerate() {
        // MNIST digits are already 20x20-boxed and centred by mass: redoing it from a 5x larger
        // drawing at an arbitrary place must land close to the original.
        let drawing = upscale(digit, 5, (i % 20, (i * 7) % 20));
        let redone = to_mnist(&drawing, SIDE).unwrap();
        let ((dx, dy), diff) = best_alignment(digit, &redone);
        let ink: u32 = digit.iter().map(|&a| u32::from(a)).sum();
        assert!(
            dx.abs() <= 1 && dy.abs() <= 1,
            "digit {i}: centred {dx},{dy} px away from MNIST"
        );
        assert!(
            diff * 4 < ink,
            "digit {i}: {diff} of {ink} ink differs after alignment"
        );
        let (original, again) = (
            recognizer.classify(digit).unwrap(),
            recognizer.classify(&redone).unwrap(),
        );
        agree += usize::from(original.digit == again.digit);
        correct += usize::from(again.digit == label);
    }
    assert!(
        agree >= 196,
        "only {agree}/200 re-preprocessed digits keep their prediction"
    );
    assert!(
        correct >= 194,
        "only {correct}/200 re-preprocessed digits are recognised"
    );
}

#[test]
fn the_bounding_box_is_scaled_to_20_pixels_and_centred() {
    let mut canvas = Canvas::new();
    canvas.line((30.0, 20.0), (30.0, 140.0)); // a tall "1"
    let digit = to_mnist(canvas.pixels(), SIDE).unwrap();
    let (l, r, t, b) = bounding_box(&digit, DIGIT_SIDE).unwrap();
    assert_eq!(b - t, 20, "height scaled to the 20-pixel box");
    assert!(r - l < 8);
    assert!(
        (l + r).abs_diff(28) <= 1 && (t + b).abs_diff(28) <= 1,
        "centred: {l}..{r} x {t}..{b}"
    );
    assert!(to_mnist(&[0; SIDE * SIDE], SIDE).is_none());
}

#[test]
fn a_synthetic_finger_stroke_of_each_digit_is_recognised() {
    let mut recognizer = recognizer();
    let mut wrong = Vec::new();
    for digit in 0..10u8 {
        let mut canvas = Canvas::new();
        app::synthetic::draw_digit(&mut canvas, digit);
        let prediction = recognizer
            .classify(&to_mnist(canvas.pixels(), SIDE).unwrap())
            .unwrap();
        if prediction.digit != digit {
            wrong.push(format!(
                "{digit} read as {} (top 3 {:?})",
                prediction.digit,
                prediction.top3()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A second core as a thread: the other half of each convolution on it.
struct Thread;

impl runtime_nostd::Parallel for Thread {
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut()) {
        std::thread::scope(|scope| {
            let other = scope.spawn(there);
            here();
            other.join().expect("the second core's half panicked");
        });
    }
}

#[test]
fn a_second_core_gives_the_same_answers_bit_for_bit() {
    let (digits, _) = mnist_test(50);
    let mut one = recognizer();
    let mut two = recognizer();
    let needed = runtime_nostd::Model::parse(model())
        .unwrap()
        .helper_scratch_bytes();
    let scratch = Box::leak(vec![0u8; needed - 1].into_boxed_slice());
    assert_eq!(
        two.use_second_core(scratch, Box::leak(Box::new(Thread))),
        Err(RecognizerError::HelperScratchTooSmall {
            needed,
            given: needed - 1
        })
    );
    let scratch = Box::leak(vec![0u8; needed].into_boxed_slice());
    two.use_second_core(scratch, Box::leak(Box::new(Thread)))
        .unwrap();
    for (i, digit) in digits.iter().enumerate() {
        let (a, b) = (one.classify(digit).unwrap(), two.classify(digit).unwrap());
        assert_eq!(a.digit, b.digit, "digit {i}");
        let bits = |p: &app::recognizer::Prediction| p.probabilities.map(f32::to_bits);
        assert_eq!(bits(&a), bits(&b), "digit {i}");
    }
}

#[test]
fn top3_is_sorted_and_starts_with_the_prediction() {
    let mut p = app::recognizer::Prediction {
        digit: 3,
        probabilities: [0.0; 10],
    };
    p.probabilities[3] = 0.6;
    p.probabilities[8] = 0.3;
    p.probabilities[5] = 0.1;
    assert_eq!(p.top3(), [(3, 0.6), (8, 0.3), (5, 0.1)]);
}

/// A prediction with `top` probability on `digit`, the rest spread over the other nine
/// (slightly decreasing, so the runner-up is the next digit up).
fn prediction_with(digit: u8, top: f32) -> app::recognizer::Prediction {
    let mut probabilities = [0.0; 10];
    let others = (1..10).map(|k| (digit + k) % 10);
    let weights: Vec<f32> = (0..9).map(|k| 10.0 - k as f32).collect();
    let total: f32 = weights.iter().sum();
    for (other, w) in others.zip(&weights) {
        probabilities[usize::from(other)] = (1.0 - top) * w / total;
    }
    probabilities[usize::from(digit)] = top;
    app::recognizer::Prediction {
        digit,
        probabilities,
    }
}

#[test]
fn an_answer_below_the_confidence_threshold_reads_question_mark_with_the_top_two() {
    use app::recognizer::{Answer, CONFIDENCE_THRESHOLD};
    use app::session::Screen;
    use app::ui::{draw, read_answer};

    assert_eq!(
        prediction_with(3, CONFIDENCE_THRESHOLD).answer(),
        Answer::Digit(3),
        "the threshold itself is confident"
    );
    let unsure = prediction_with(3, CONFIDENCE_THRESHOLD - 0.01);
    assert!(unsure.top3()[1].1 < unsure.top3()[0].1);
    assert_eq!(
        unsure.answer(),
        Answer::Unsure {
            first: 3,
            second: 4
        }
    );
    let layout = layout();
    let canvas = Canvas::new();
    let shown = |prediction| {
        let mut fb = Framebuffer::new();
        draw(
            &Screen {
                layout: &layout,
                canvas: &canvas,
                digit: None,
                prediction: Some(prediction),
                inference_us: None,
                notice: None,
            },
            &mut fb,
        )
        .unwrap();
        fb
    };
    let pixel_of =
        |fb: &Framebuffer, p: Point| fb.pixel(u32::try_from(p.x).ok()?, u32::try_from(p.y).ok()?);
    let (sure, unsure) = (
        shown(prediction_with(3, CONFIDENCE_THRESHOLD)),
        shown(unsure),
    );
    assert_eq!(read_answer(&layout, |p| pixel_of(&sure, p)), Some('3'));
    assert_eq!(read_answer(&layout, |p| pixel_of(&unsure, p)), Some('?'));
    // "3 or 4" under the "?": text where the sure screen has only background.
    let line = Rectangle::with_center(layout.top2_at - Point::new(0, 4), Size::new(40, 8));
    let differs = line
        .points()
        .filter(|&p| pixel_of(&sure, p) != pixel_of(&unsure, p))
        .count();
    assert!(differs > 20, "the top two are not shown ({differs} pixels)");
    assert!(
        layout.results_area.contains(line.top_left)
            && layout.results_area.contains(line.bottom_right().unwrap()),
        "{line:?}"
    );
}

#[test]
fn ink_after_an_answer_starts_the_next_digit() {
    use app::ui::draw;

    let (mut session, mut fb, first) = draw_through_session(3);
    assert_eq!(first.iter().map(|&(d, _)| d).collect::<Vec<_>>(), [3]);
    let mut next = Vec::new();
    app::synthetic::draw_through_session(&mut session, 7, |session, update| {
        app::ui::redraw(&session.screen(), update, &mut fb).unwrap();
        next.extend(update.recognised);
    })
    .unwrap();
    assert_eq!(next.iter().map(|&(d, _)| d).collect::<Vec<_>>(), [7]);
    let (alone, _, _) = draw_through_session(7);
    assert!(
        session.screen().canvas.pixels() == alone.screen().canvas.pixels(),
        "the 3 is gone: the canvas holds the 7 alone"
    );
    assert_eq!(session.screen().digit, alone.screen().digit);
    let mut full = Framebuffer::new();
    draw(&session.screen(), &mut full).unwrap();
    assert!(
        fb.pixels() == full.pixels(),
        "redrawing the damage after the automatic clear gives the full screen"
    );
}

#[test]
fn the_screen_shows_the_drawing_the_answer_and_a_clear_button() {
    use app::session::Screen;
    use app::ui::{draw, milliseconds, percent};

    let layout = layout();
    let mut canvas = Canvas::new();
    canvas.line((20.0, 80.0), (140.0, 80.0));
    let mut probabilities = [0.0; 10];
    probabilities[7] = 0.9;
    probabilities[1] = 0.1;
    let prediction = app::recognizer::Prediction {
        digit: 7,
        probabilities,
    };
    let mut fb = Framebuffer::new();
    let screen = Screen {
        layout: &layout,
        canvas: &canvas,
        digit: None,
        prediction: Some(prediction),
        inference_us: Some(12_345),
        notice: None,
    };
    draw(&screen, &mut fb).unwrap();

    let origin = layout.canvas_origin;
    let ink = fb
        .pixel((origin.x + 80) as u32, (origin.y + 80) as u32)
        .unwrap();
    assert_eq!(ink, Rgb565::WHITE, "a full-ink canvas pixel shows white");
    let paper = fb
        .pixel((origin.x + 80) as u32, (origin.y + 20) as u32)
        .unwrap();
    assert_eq!(paper, Rgb565::BLACK);
    let button = fb
        .pixel(
            (layout.clear_button.top_left.x + 3) as u32,
            (layout.clear_button.top_left.y + 3) as u32,
        )
        .unwrap();
    assert_ne!(button, Rgb565::BLACK);
    // Top-1 bar (90%) is longer than the top-2 bar (10%).
    let bars = layout.bars_at;
    let (x0, y0) = (bars.x as u32 + 10, bars.y as u32 + 1);
    let bar_len = |y: u32| {
        (x0..x0 + 94)
            .filter(|&x| fb.pixel(x, y) == fb.pixel(x0 + 1, y0))
            .count()
    };
    assert!(
        bar_len(y0) > 4 * bar_len(y0 + 20),
        "{} vs {}",
        bar_len(y0),
        bar_len(y0 + 20)
    );
    assert_eq!(milliseconds(12_345).as_str(), "12.3 ms");
    assert_eq!(percent(0.934).as_str(), "93%");
}

/// Drives a session like a board does, with the synthetic finger. Returns the session, a
/// framebuffer kept up to date with `redraw` only, and every recognition that happened.
fn draw_through_session(digit: u8) -> (Session<SCRATCH>, Framebuffer, Vec<(u8, u32)>) {
    use app::ui::{draw, redraw};

    let mut session = Session::new(model(), layout()).unwrap();
    let mut fb = Framebuffer::new();
    draw(&session.screen(), &mut fb).unwrap();
    let mut recognitions = Vec::new();
    app::synthetic::draw_through_session(&mut session, digit, |session, update| {
        redraw(&session.screen(), update, &mut fb).unwrap();
        recognitions.extend(update.recognised);
    })
    .unwrap();
    (session, fb, recognitions)
}

#[test]
fn a_session_recognises_each_digit_once_after_the_finger_settles() {
    let mut recognizer = recognizer();
    for digit in 0..10u8 {
        let (session, _, recognitions) = draw_through_session(digit);
        let answers: Vec<u8> = recognitions.iter().map(|&(d, _)| d).collect();
        assert_eq!(answers, [digit], "digit {digit}: recognitions {answers:?}");
        let screen = session.screen();
        let expected = recognizer.classify(screen.digit.unwrap()).unwrap();
        assert_eq!(screen.prediction, Some(expected));
        assert_eq!(
            screen.digit,
            to_mnist(screen.canvas.pixels(), SIDE).as_ref(),
            "the shown digit is the preprocessed drawing"
        );
    }
}

#[test]
fn a_sketch_settles_on_the_digit_a_session_recognises() {
    for digit in 0..10u8 {
        let (session, _, _) = draw_through_session(digit);
        let sketched =
            app::synthetic::sketch_of(layout(), |touch| app::synthetic::strokes_of(digit, touch));
        assert!(sketched.is_some(), "digit {digit}: no ink settled");
        assert_eq!(
            sketched.as_ref(),
            session.screen().digit,
            "digit {digit}: the sketch and the session's model see different digits"
        );
    }
}

#[test]
fn redrawing_only_the_damage_gives_the_same_screen_as_a_full_draw() {
    use app::ui::draw;
    for digit in [4, 7] {
        let (session, incremental, _) = draw_through_session(digit);
        let mut full = Framebuffer::new();
        draw(&session.screen(), &mut full).unwrap();
        assert!(
            incremental.pixels() == full.pixels(),
            "digit {digit}: incremental and full screens differ"
        );
    }
}

#[test]
fn the_clear_button_wipes_the_drawing_and_the_answer() {
    let clear = layout().clear_button.center();
    let (mut session, _, _) = draw_through_session(3);
    assert!(session.screen().prediction.is_some());
    let mut now = || 10_000_000u64;
    let update = session.step(Some(clear), &mut now).unwrap();
    assert!(update.results);
    assert_eq!(update.canvas, Some(Canvas::area()));
    let screen = session.screen();
    assert!(screen.canvas.is_blank());
    assert_eq!(
        (screen.digit, screen.prediction, screen.inference_us),
        (None, None, None)
    );
    // Holding the finger on the button does nothing more; lifting it recognises nothing.
    let held = session.step(Some(clear), &mut now).unwrap();
    assert_eq!(held, app::session::Update::default());
    let mut later = || 20_000_000u64;
    assert_eq!(
        session.step(None, &mut later).unwrap(),
        app::session::Update::default()
    );
}

#[test]
fn the_answer_reads_back_off_the_screen_and_the_time_stays_in_its_area() {
    use app::ui::{draw, read_answer, time_area};

    fn pixel_of(fb: &Framebuffer) -> impl Fn(Point) -> Option<Rgb565> + '_ {
        move |p: Point| fb.pixel(u32::try_from(p.x).ok()?, u32::try_from(p.y).ok()?)
    }
    let layout = layout();
    let width = layout.screen.width as usize;
    for digit in 0..10u8 {
        let (session, fb, _) = draw_through_session(digit);
        assert_eq!(
            read_answer(&layout, pixel_of(&fb)),
            Some(char::from(b'0' + digit)),
            "digit {digit}"
        );
        // The same screen with another inference time differs only inside the time's area.
        let screen = session.screen();
        let mut other = Framebuffer::new();
        draw(
            &app::session::Screen {
                inference_us: Some(987_654_321),
                notice: None,
                ..screen
            },
            &mut other,
        )
        .unwrap();
        let mut full = Framebuffer::new();
        draw(&screen, &mut full).unwrap();
        let area = time_area(&layout);
        for (i, (a, b)) in full.pixels().iter().zip(other.pixels()).enumerate() {
            let p = Point::new((i % width) as i32, (i / width) as i32);
            assert!(a == b || area.contains(p), "digit {digit}: {p} differs");
        }
    }
    let blank = Framebuffer::new();
    assert_eq!(
        read_answer(&layout, pixel_of(&blank)),
        None,
        "a black screen shows no answer"
    );
    let mut blank_ui = Framebuffer::new();
    let canvas = Canvas::new();
    draw(
        &app::session::Screen {
            layout: &layout,
            canvas: &canvas,
            digit: None,
            prediction: None,
            inference_us: None,
            notice: None,
        },
        &mut blank_ui,
    )
    .unwrap();
    assert_eq!(
        read_answer(&layout, pixel_of(&blank_ui)),
        None,
        "no answer before the first"
    );
    let area = time_area(&layout);
    assert!(
        area.size.width >= 6 * 12 && area.size.height >= 10,
        "{area:?}"
    );
    assert!(
        layout.results_area.contains(area.top_left),
        "the time is in the results panel: {area:?}"
    );
}

#[test]
fn the_synthetic_finger_moves_at_handwriting_speed() {
    use app::synthetic::{FINGER_STEP, strokes_of};
    for digit in 0..10u8 {
        let mut last: Option<(f32, f32)> = None;
        let mut samples = 0;
        strokes_of(digit, |point| {
            if let (Some((x0, y0)), Some((x, y))) = (last, point) {
                let step = ((x - x0).powi(2) + (y - y0).powi(2)).sqrt();
                assert!(
                    step <= FINGER_STEP + 1e-3,
                    "digit {digit}: a {step} px step"
                );
            }
            samples += usize::from(point.is_some());
            last = point;
        });
        assert!(samples >= 15, "digit {digit}: {samples} samples");
    }
}

#[test]
fn a_stroke_is_the_same_however_many_samples_make_it() {
    // The integer geometry must not depend on where a straight stroke is sampled: one segment
    // and the same segment in eight pieces ink the same pixels alike (within a grey level).
    let (mut whole, mut pieces) = (Canvas::new(), Canvas::new());
    whole.line((20.0, 30.0), (140.0, 110.0));
    for k in 0..8 {
        let at = |k: f32| (20.0 + 15.0 * k, 30.0 + 10.0 * k);
        pieces.line(at(k as f32), at(k as f32 + 1.0));
    }
    let worst = whole
        .pixels()
        .iter()
        .zip(pieces.pixels())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(worst <= 1, "pixels differ by up to {worst} grey levels");
    // Points far off the canvas neither panic nor overflow.
    whole.line((-1e9, 3e9), (f32::MAX, f32::MIN));
    whole.line((f32::NAN, 0.0), (10.0, 10.0));
}

#[test]
fn a_fault_screen_keeps_any_message_inside_its_margins_and_differs_from_the_app() {
    let words = "word ".repeat(200);
    let path = "/very/long/".repeat(30) + "main.rs";
    let faults = [
        Fault::Model(RecognizerError::Classes { classes: 3 }),
        Fault::Panic {
            message: &words,
            file: &path,
            line: u32::MAX,
        },
        Fault::Panic {
            message: "",
            file: "",
            line: 0,
        },
    ];
    let mut app_screen = Framebuffer::new();
    let (canvas, layout) = (Canvas::new(), layout());
    ui::draw(
        &app::session::Screen {
            layout: &layout,
            canvas: &canvas,
            digit: None,
            prediction: None,
            inference_us: None,
            notice: None,
        },
        &mut app_screen,
    )
    .unwrap();
    for fault in faults {
        let mut fb = Framebuffer::new();
        ui::draw_fault(&fault, &mut fb).unwrap();
        let background = fb.pixel(0, 0).unwrap();
        assert_ne!(background, app_screen.pixel(0, 0).unwrap(), "{fault:?}");
        let size = fb.size();
        let text = (0..size.height)
            .flat_map(|y| (0..size.width).map(move |x| (x, y)))
            .filter(|&(x, y)| fb.pixel(x, y) != Some(background));
        let (mut count, mut left, mut right) = (0, u32::MAX, 0);
        for (x, _) in text {
            count += 1;
            left = left.min(x);
            right = right.max(x);
        }
        assert!(count > 0, "{fault:?}: nothing written");
        assert!(
            left >= 8 && right < size.width - 8,
            "{fault:?}: text from x {left} to {right}"
        );
    }
}
