//! The digit-recognition app on the desktop: the same `app` session, UI and int8 model as the
//! board firmware, on a screen of the board's size, drawn by embedded-graphics-simulator in an SDL2 window where the mouse is
//! the finger. Without a display it replays synthetic finger strokes and writes the screen to a
//! PNG.
//!
//! ```text
//! cargo run --manifest-path firmware/Cargo.toml --release -p simulator
//! cargo run --manifest-path firmware/Cargo.toml --release -p simulator -- --png screen.png --digit 7
//! ```
//!
//! The board emulator (firmware/emulate-board.sh) uses it as its reference: `--polls` gives the
//! finger script it replays on the emulated touch panel, `--compare` checks the emulated
//! screen against the simulator's, pixel for pixel, and reads the answer off it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use app::calibration::Source;
use app::fault::Fault;
use app::layout::Layout;
use app::session::{NOTICE_MS, POLL_MS};
use app::ui;
use board::{SCREEN, Simulator};
use embedded_graphics::pixelcolor::{Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use embedded_graphics_simulator::sdl2::{Keycode, MouseButton};
use embedded_graphics_simulator::{
    OutputSettings, OutputSettingsBuilder, SimulatorDisplay, SimulatorEvent, Window,
};

mod board;

const USAGE: &str = "usage: simulator [--png FILE [--digit 0-9 | --blank | --notice stored|default|unreadable | --calibration | --panic 'FILE:LINE: MESSAGE'] [--compare BOARD_PNG]] [--polls 0-9|clear]
  without arguments: opens a window; draw a digit with the mouse (left button), keys 0-9 replay
    a synthetic finger-drawn digit, Esc quits (needs a display and SDL2: scripts/install-sdl2.sh)
  --png FILE: no window; replays the synthetic strokes of --digit (default 7) through the app,
    writes the screen to FILE, and fails if the digit is not recognised; --blank draws nothing,
    --notice is the first screen at power-up, saying which touch calibration the board runs
    with (stored, default, or default as the stored one is unreadable),
    --calibration shows the touch calibration's first screen, --panic the fault screen of a
    panic (as the log prints it: `panicked at FILE:LINE: MESSAGE`)
  --compare BOARD_PNG: also reads the answer off BOARD_PNG (a board's screen) and compares it
    with the simulator's, pixel for pixel (outside the inference time, on the app's screens);
    fails on any difference
  --polls 0-9|clear: prints the touch-panel polls of a finger drawing that digit (or tapping
    CLEAR), one per 10 ms: `x y` (screen pixels) while it touches, `-` while it is lifted";

/// What the screenshot shows.
#[derive(Debug, Clone, PartialEq)]
enum Drawing {
    /// The app after the finger drew this digit.
    Digit(u8),
    /// The app before anything was drawn.
    Blank,
    /// The app's first screen at power-up, with the calibration notice.
    Notice(Source),
    /// The screen that opens the touch calibration.
    CalibrationPrompt,
    /// The fault screen of a panic.
    Panic {
        message: String,
        file: String,
        line: u32,
    },
}

/// `FILE:LINE: MESSAGE`, as the board logs a panic.
fn parse_panic(v: &str) -> Result<Drawing, String> {
    let bad = || format!("--panic takes FILE:LINE: MESSAGE, not {v:?}");
    let (at, message) = v.split_once(": ").ok_or_else(bad)?;
    let (file, line) = at.rsplit_once(':').ok_or_else(bad)?;
    Ok(Drawing::Panic {
        message: message.to_string(),
        file: file.to_string(),
        line: line.parse().map_err(|_| bad())?,
    })
}

/// `--notice`'s value.
fn parse_source(v: &str) -> Result<Source, String> {
    match v {
        "stored" => Ok(Source::Stored),
        "default" => Ok(Source::Default),
        "unreadable" => Ok(Source::DefaultStoredUnreadable),
        _ => Err(format!(
            "--notice takes stored, default or unreadable, not {v:?}"
        )),
    }
}

/// A finger script for `--polls`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Script {
    Digit(u8),
    Clear,
}

/// What the command line asks for.
#[derive(Debug, PartialEq)]
enum Mode {
    Window,
    Png {
        path: PathBuf,
        drawing: Drawing,
        compare: Option<PathBuf>,
    },
    Polls(Script),
}

fn parse_digit(v: &str, option: &str) -> Result<u8, String> {
    v.parse::<u8>()
        .ok()
        .filter(|d| *d < 10)
        .ok_or(format!("{option} takes 0 to 9, not {v:?}"))
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Mode, String> {
    let (mut png, mut digit, mut compare, mut polls) = (None, None, None, None);
    let mut screens = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--png" => png = Some(PathBuf::from(value("--png")?)),
            "--digit" => digit = Some(parse_digit(&value("--digit")?, "--digit")?),
            "--blank" => screens.push(Drawing::Blank),
            "--notice" => screens.push(Drawing::Notice(parse_source(&value("--notice")?)?)),
            "--calibration" => screens.push(Drawing::CalibrationPrompt),
            "--panic" => screens.push(parse_panic(&value("--panic")?)?),
            "--compare" => compare = Some(PathBuf::from(value("--compare")?)),
            "--polls" => {
                polls = Some(match value("--polls")?.as_str() {
                    "clear" => Script::Clear,
                    v => Script::Digit(parse_digit(v, "--polls")?),
                })
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    match (png, polls) {
        (Some(_), Some(_)) => Err("--polls goes without --png".into()),
        (None, Some(script)) => Ok(Mode::Polls(script)),
        (Some(path), None) => {
            screens.extend(digit.map(Drawing::Digit));
            if screens.len() > 1 {
                return Err(
                    "--digit, --blank, --notice, --calibration and --panic exclude each other"
                        .into(),
                );
            }
            let drawing = screens.pop().unwrap_or(Drawing::Digit(7));
            Ok(Mode::Png {
                path,
                drawing,
                compare,
            })
        }
        (None, None) if digit.is_some() || !screens.is_empty() || compare.is_some() => Err(
            "--digit, --blank, --notice, --calibration, --panic and --compare go with --png".into(),
        ),
        (None, None) => Ok(Mode::Window),
    }
}

fn write_png(path: PathBuf, drawing: Drawing, compare: Option<PathBuf>) -> Result<(), String> {
    // Power-up as the board does it: the flash holds no calibration unless --notice says so,
    // and a finger on the panel starts the calibration.
    let (finds, finger_on_panel) = match &drawing {
        Drawing::Notice(source) => (*source, false),
        Drawing::CalibrationPrompt => (Source::Default, true),
        Drawing::Digit(_) | Drawing::Blank | Drawing::Panic { .. } => (Source::Default, false),
    };
    let mut simulator = Simulator::new(finds, finger_on_panel)?;
    let recognised = match &drawing {
        Drawing::Digit(digit) => simulator.replay(*digit)?,
        // The screen once the power-up notice is over.
        Drawing::Blank => {
            simulator.idle(NOTICE_MS + POLL_MS)?;
            None
        }
        Drawing::Notice(_) | Drawing::CalibrationPrompt => None,
        Drawing::Panic {
            message,
            file,
            line,
        } => {
            let fault = Fault::Panic {
                message,
                file,
                line: *line,
            };
            let _ = ui::draw_fault(&fault, &mut simulator.display);
            None
        }
    };
    // The app's screens show a measured time, which differs between any two runs.
    let measured = match drawing {
        Drawing::Digit(_) | Drawing::Blank | Drawing::Notice(_) | Drawing::CalibrationPrompt => {
            Some(ui::time_area(&simulator.layout()))
        }
        Drawing::Panic { .. } => None,
    };
    let image = simulator
        .display
        .to_rgb_output_image(&OutputSettings::default());
    image
        .save_png(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let compared = match compare {
        Some(board) => compare_screens(&simulator.layout(), &simulator.display, &board, measured),
        None => Ok(()),
    };
    let Drawing::Digit(digit) = drawing else {
        println!("simulator: {drawing:?}; wrote {}", path.display());
        return compared;
    };
    let Some((answer, us)) = recognised else {
        return Err(format!("drew a {digit} but nothing was recognised"));
    };
    let top3 = simulator
        .controller
        .session()
        .screen()
        .prediction
        .map(|p| p.top3());
    println!(
        "simulator: drew a {digit}, recognised {answer} in {us} us (top 3 {top3:?}); wrote {}",
        path.display()
    );
    if answer != digit {
        return Err(format!("drew a {digit} but the app recognised {answer}"));
    }
    compared
}

/// Reads the answer off a board's screen (a PNG) and compares the screen with the simulator's,
/// pixel for pixel except in `measured` (where the inference time is written); prints one line
/// saying what it found, `compare: answer <digit|?|none>, <n> pixels differ ...`.
fn compare_screens(
    layout: &Layout,
    reference: &SimulatorDisplay<Rgb565>,
    board: &Path,
    measured: Option<Rectangle>,
) -> Result<(), String> {
    let board_screen = SimulatorDisplay::<Rgb565>::load_png(board)
        .map_err(|e| format!("cannot read the board's screen {}: {e}", board.display()))?;
    let size = board_screen.size();
    if size != SCREEN {
        return Err(format!(
            "{}: the screen is {}x{}, not {}x{}",
            board.display(),
            size.width,
            size.height,
            SCREEN.width,
            SCREEN.height
        ));
    }
    let answer = ui::read_answer(layout, |p| {
        board_screen
            .bounding_box()
            .contains(p)
            .then(|| board_screen.get_pixel(p))
    });
    let compared = |p: &Point| !measured.is_some_and(|area| area.contains(*p));
    let differing: Vec<Point> = reference
        .bounding_box()
        .points()
        .filter(|p| compared(p) && board_screen.get_pixel(*p) != reference.get_pixel(*p))
        .collect();
    let outside = if measured.is_some() {
        " outside the inference time"
    } else {
        ""
    };
    let answer_text = answer.map_or("none".to_string(), |d| d.to_string());
    let hex = |c: Rgb565| {
        let c = Rgb888::from(c);
        format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
    };
    match differing.first() {
        None => {
            println!(
                "compare: answer {answer_text}, 0 pixels differ{outside} ({})",
                board.display()
            );
            Ok(())
        }
        Some(&first) => {
            println!(
                "compare: answer {answer_text}, {} pixels differ{outside}, the first at ({}, {}): board {}, simulator {} ({})",
                differing.len(),
                first.x,
                first.y,
                hex(board_screen.get_pixel(first)),
                hex(reference.get_pixel(first)),
                board.display()
            );
            Err(format!(
                "{} differs from the simulator's screen",
                board.display()
            ))
        }
    }
}

/// Prints the polls of a finger script: `x y` while touching, `-` while lifted.
fn print_polls(script: Script) -> Result<(), String> {
    let layout = Layout::for_screen(SCREEN).ok_or("the layout does not fit the screen")?;
    let line = |touch: Option<Point>| match touch {
        Some(p) => println!("{} {}", p.x, p.y),
        None => println!("-"),
    };
    match script {
        Script::Digit(digit) => app::synthetic::finger_polls(&layout, digit, line),
        Script::Clear => app::synthetic::clear_polls(&layout, line),
    }
    Ok(())
}

/// Shows the window for the first time. embedded-graphics-simulator unwraps SDL's errors (no
/// display, no video driver): this turns that panic into an error that says what to do.
fn open(window: &mut Window, display: &SimulatorDisplay<Rgb565>) -> Result<(), String> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| window.update(display)));
    std::panic::set_hook(quiet);
    opened.map_err(|payload| {
        let reason = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!(
            "cannot open a window ({reason}): run it in a desktop session with SDL2 \
             (scripts/install-sdl2.sh), or write a PNG instead with --png FILE"
        )
    })
}

/// What a window event means to the app.
#[derive(Debug, PartialEq)]
enum Input {
    Quit,
    /// A touch-panel poll: the mouse is the finger while the left button is down.
    Poll(Option<Point>),
    /// Clear, then draw this digit with the synthetic finger.
    Replay(u8),
    Nothing,
}

/// Maps one event; `pressed` tracks the mouse button between events.
fn input_of(event: SimulatorEvent, pressed: &mut bool) -> Input {
    match event {
        SimulatorEvent::Quit
        | SimulatorEvent::KeyDown {
            keycode: Keycode::Escape,
            ..
        } => Input::Quit,
        SimulatorEvent::MouseButtonDown {
            mouse_btn: MouseButton::Left,
            point,
        } => {
            *pressed = true;
            Input::Poll(Some(point))
        }
        SimulatorEvent::MouseMove { point } if *pressed => Input::Poll(Some(point)),
        SimulatorEvent::MouseButtonUp {
            mouse_btn: MouseButton::Left,
            ..
        } => {
            *pressed = false;
            Input::Poll(None)
        }
        SimulatorEvent::KeyDown { keycode, .. } => {
            let key = keycode.into_i32() - Keycode::Num0.into_i32();
            match u8::try_from(key) {
                Ok(digit @ 0..=9) => Input::Replay(digit),
                _ => Input::Nothing,
            }
        }
        _ => Input::Nothing,
    }
}

fn run_window() -> Result<(), String> {
    let mut simulator = Simulator::new(Source::Default, false)?;
    let settings = OutputSettingsBuilder::new().scale(2).build();
    let mut window = Window::new("mnist-edge: draw a digit", &settings);
    open(&mut window, &simulator.display)?;
    let mut pressed = false;
    loop {
        window.update(&simulator.display);
        // Every mouse event is a poll, so a click shorter than a frame still counts; a frame
        // with nothing touching is one too, so the drawing settles.
        let inputs: Vec<Input> = window
            .events()
            .map(|event| input_of(event, &mut pressed))
            .collect();
        let idle = (!pressed).then_some(Input::Poll(None));
        for input in inputs.into_iter().chain(idle) {
            match input {
                Input::Quit => return Ok(()),
                Input::Poll(touch) => {
                    // The board's log lines.
                    simulator.step(touch)?.iter().for_each(|r| println!("{r}"));
                }
                Input::Replay(digit) => {
                    let mut polls = Vec::new();
                    let layout = simulator.layout();
                    app::synthetic::clear_polls(&layout, |touch| polls.push(touch));
                    for touch in polls {
                        simulator.step(touch)?;
                    }
                    if let Some((answer, us)) = simulator.replay(digit)? {
                        println!("replayed a {digit}: recognised {answer} in {us} us");
                    }
                }
                Input::Nothing => {}
            }
        }
    }
}

fn main() -> ExitCode {
    let mode = match parse_args(std::env::args().skip(1)) {
        Ok(mode) => mode,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("simulator: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match mode {
        Mode::Window => run_window(),
        Mode::Png {
            path,
            drawing,
            compare,
        } => write_png(path, drawing, compare),
        Mode::Polls(script) => print_polls(script),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("simulator: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics_simulator::sdl2::Mod;

    fn parse(args: &[&str]) -> Result<Mode, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments_select_the_mode() {
        assert_eq!(parse(&[]), Ok(Mode::Window));
        assert_eq!(
            parse(&["--png", "a.png"]),
            Ok(Mode::Png {
                path: "a.png".into(),
                drawing: Drawing::Digit(7),
                compare: None,
            })
        );
        assert_eq!(
            parse(&["--digit", "3", "--png", "b.png", "--compare", "board.png"]),
            Ok(Mode::Png {
                path: "b.png".into(),
                drawing: Drawing::Digit(3),
                compare: Some("board.png".into()),
            })
        );
        assert_eq!(
            parse(&["--png", "c.png", "--blank"]),
            Ok(Mode::Png {
                path: "c.png".into(),
                drawing: Drawing::Blank,
                compare: None,
            })
        );
        assert_eq!(
            parse(&["--png", "n.png", "--notice", "unreadable"]),
            Ok(Mode::Png {
                path: "n.png".into(),
                drawing: Drawing::Notice(Source::DefaultStoredUnreadable),
                compare: None,
            })
        );
        assert_eq!(
            parse(&["--png", "d.png", "--calibration"]),
            Ok(Mode::Png {
                path: "d.png".into(),
                drawing: Drawing::CalibrationPrompt,
                compare: None,
            })
        );
        assert_eq!(
            parse(&["--png", "e.png", "--panic", "src/main.rs:12: boom: twice"]),
            Ok(Mode::Png {
                path: PathBuf::from("e.png"),
                drawing: Drawing::Panic {
                    message: "boom: twice".into(),
                    file: "src/main.rs".into(),
                    line: 12
                },
                compare: None
            })
        );
        assert_eq!(parse(&["--polls", "5"]), Ok(Mode::Polls(Script::Digit(5))));
        assert_eq!(parse(&["--polls", "clear"]), Ok(Mode::Polls(Script::Clear)));
    }

    #[test]
    fn the_left_button_is_the_finger_and_digit_keys_replay() {
        let at = Point::new(50, 60);
        let events = [
            SimulatorEvent::MouseMove { point: at },
            SimulatorEvent::MouseButtonDown {
                mouse_btn: MouseButton::Left,
                point: at,
            },
            SimulatorEvent::MouseMove { point: at + at },
            SimulatorEvent::MouseButtonUp {
                mouse_btn: MouseButton::Left,
                point: at,
            },
            SimulatorEvent::MouseMove { point: at },
            SimulatorEvent::KeyDown {
                keycode: Keycode::Num4,
                keymod: Mod::NOMOD,
                repeat: false,
            },
            SimulatorEvent::KeyDown {
                keycode: Keycode::A,
                keymod: Mod::NOMOD,
                repeat: false,
            },
            SimulatorEvent::Quit,
        ];
        let mut pressed = false;
        let inputs: Vec<Input> = events
            .into_iter()
            .map(|e| input_of(e, &mut pressed))
            .collect();
        assert_eq!(
            inputs,
            [
                Input::Nothing,
                Input::Poll(Some(at)),
                Input::Poll(Some(at + at)),
                Input::Poll(None),
                Input::Nothing,
                Input::Replay(4),
                Input::Nothing,
                Input::Quit,
            ]
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        assert_eq!(
            parse(&["--png"]).unwrap_err(),
            "--png needs a value".to_string()
        );
        assert!(
            parse(&["--png", "a.png", "--digit", "12"])
                .unwrap_err()
                .contains("0 to 9")
        );
        assert!(parse(&["--digit", "3"]).unwrap_err().contains("--png"));
        assert!(
            parse(&["--compare", "b.png"])
                .unwrap_err()
                .contains("--png")
        );
        assert!(
            parse(&["--png", "a.png", "--digit", "3", "--blank"])
                .unwrap_err()
                .contains("exclude")
        );
        assert!(
            parse(&["--png", "a.png", "--notice", "fresh"])
                .unwrap_err()
                .contains("stored, default or unreadable")
        );
        assert!(
            parse(&["--png", "a.png", "--blank", "--calibration"])
                .unwrap_err()
                .contains("exclude")
        );
        for bad in ["boom", "main.rs: boom", "main.rs:x: boom"] {
            assert!(
                parse(&["--png", "a.png", "--panic", bad])
                    .unwrap_err()
                    .contains("FILE:LINE: MESSAGE")
            );
        }
        assert!(parse(&["--polls", "x"]).unwrap_err().contains("0 to 9"));
        assert!(
            parse(&["--polls", "3", "--png", "a.png"])
                .unwrap_err()
                .contains("without --png")
        );
        assert!(parse(&["--frobnicate"]).unwrap_err().contains("unknown"));
    }
}
