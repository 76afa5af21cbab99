//! The simulator binary: replays each digit without a display, refuses bad arguments, and
//! keeps its window open under SDL's offscreen video driver.

use std::process::Command;
use std::time::Duration;

fn simulator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_simulator"))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn each_replayed_digit_is_recognised_and_written_as_a_png() {
    let dir = std::env::temp_dir().join(format!("mnist-edge-simulator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for digit in 0..10 {
        let path = dir.join(format!("{digit}.png"));
        let out = simulator()
            .args([
                "--png",
                path.to_str().unwrap(),
                "--digit",
                &digit.to_string(),
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "digit {digit}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("drew a {digit}, recognised {digit} in")),
            "{stdout}"
        );
        assert_eq!(png_size(&std::fs::read(&path).unwrap()), (320, 240));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_arguments_exit_2_with_the_reason_and_usage() {
    for (args, reason) in [
        (&["--png"][..], "--png needs a value"),
        (
            &["--png", "x.png", "--digit", "x"][..],
            "--digit takes 0 to 9",
        ),
        (&["--fast"][..], "unknown argument"),
    ] {
        let out = simulator().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(reason) && stderr.contains("usage:"),
            "{stderr}"
        );
    }
}

#[test]
fn an_unwritable_png_path_is_an_error_naming_it() {
    let out = simulator()
        .args(["--png", "/nonexistent-dir/screen.png"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("cannot write /nonexistent-dir/screen.png"),
        "{stderr}"
    );
}

#[test]
fn the_window_opens_and_keeps_running_on_sdls_offscreen_driver() {
    let mut child = simulator()
        .env("SDL_VIDEODRIVER", "offscreen")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let early_exit = child.try_wait().unwrap();
    child.kill().ok();
    let output = child.wait_with_output().unwrap();
    assert!(
        early_exit.is_none(),
        "the window loop ended early ({early_exit:?}): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn without_a_usable_display_the_window_mode_explains_what_to_do() {
    let out = simulator()
        .env("SDL_VIDEODRIVER", "no-such-driver")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot open a window") && stderr.contains("--png"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn polls_are_the_finger_script_a_board_replays() {
    let out = simulator().args(["--polls", "3"]).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let touching: Vec<(i32, i32)> = lines
        .iter()
        .filter(|l| **l != "-")
        .map(|l| {
            let (x, y) = l.split_once(' ').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert!(touching.len() > 20, "{stdout}");
    // On the canvas (12..172, 40..200), and the script ends with the finger off until it settles.
    assert!(
        touching
            .iter()
            .all(|&(x, y)| (12..172).contains(&x) && (40..200).contains(&y))
    );
    assert!(lines.iter().rev().take(40).all(|l| *l == "-"));

    let clear = simulator().args(["--polls", "clear"]).output().unwrap();
    assert_eq!(
        String::from_utf8(clear.stdout).unwrap(),
        "251 211\n".repeat(5) + &"-\n".repeat(5)
    );
}

#[test]
fn compare_reads_the_answer_off_a_screen_and_counts_differing_pixels() {
    let dir = std::env::temp_dir().join(format!("mnist-edge-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = |name: &str| dir.join(name).to_str().unwrap().to_string();
    for digit in ["3", "5"] {
        let out = simulator()
            .args(["--png", &png(&format!("{digit}.png")), "--digit", digit])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let same = simulator()
        .args(["--png", &png("again.png"), "--digit", "3"])
        .args(["--compare", &png("3.png")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&same.stdout);
    assert!(same.status.success(), "{stdout}");
    assert!(
        stdout.contains("compare: answer 3, 0 pixels differ outside the inference time"),
        "{stdout}"
    );
    let other = simulator()
        .args(["--png", &png("again.png"), "--digit", "3"])
        .args(["--compare", &png("5.png")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&other.stdout);
    assert_eq!(other.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("compare: answer 5, "), "{stdout}");
    let missing = simulator()
        .args(["--png", &png("again.png"), "--blank"])
        .args(["--compare", &png("missing.png")])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read the board's screen"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_reads_an_unsure_answer_as_a_question_mark() {
    use app::canvas::Canvas;
    use app::layout::Layout;
    use app::recognizer::{Answer, CONFIDENCE_THRESHOLD, Prediction};
    use embedded_graphics::pixelcolor::Rgb565;
    use embedded_graphics_simulator::{OutputSettings, SimulatorDisplay};

    let dir = std::env::temp_dir().join(format!("mnist-edge-unsure-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A board's screen with an answer the model is unsure of: 3 just under the threshold, 5 next.
    let mut probabilities = [0.0; 10];
    probabilities[3] = CONFIDENCE_THRESHOLD - 0.05;
    probabilities[5] = 1.0 - probabilities[3];
    let prediction = Prediction {
        digit: 3,
        probabilities,
    };
    assert_eq!(
        prediction.answer(),
        Answer::Unsure {
            first: 3,
            second: 5
        }
    );
    let layout = Layout::for_screen(Layout::MIN_SCREEN).unwrap();
    let canvas = Canvas::new();
    let mut screen = SimulatorDisplay::<Rgb565>::new(Layout::MIN_SCREEN);
    app::ui::draw(
        &app::session::Screen {
            layout: &layout,
            canvas: &canvas,
            digit: None,
            prediction: Some(prediction),
            inference_us: None,
            notice: None,
        },
        &mut screen,
    )
    .unwrap();
    let board = dir.join("unsure.png");
    screen
        .to_rgb_output_image(&OutputSettings::default())
        .save_png(&board)
        .unwrap();
    let out = simulator()
        .args(["--png", dir.join("blank.png").to_str().unwrap(), "--blank"])
        .args(["--compare", board.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "it differs from a blank screen: {stdout}"
    );
    assert!(stdout.contains("compare: answer ?, "), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
