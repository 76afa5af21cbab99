//! The app pipeline on QEMU `mps2-an505` (Cortex-M33, the RP2350's instruction set): the 64
//! golden test digits go through the boards' embedded int8 model (`model_embed::BOARD_STAGE`),
//! and ten synthetic finger-drawn digits go through an `app` session here, on the target,
//! exactly as the board runs it (touch polls, strokes, settle, preprocessing, recognition).
//! Every input, class and probability must equal, bit for bit, what the host computed
//! (build.rs). Logs go out as defmt frames over semihosting; the exit status is 0 only if
//! everything matched.
#![no_std]
#![no_main]

use app::layout::Layout;
use app::recognizer::{Prediction, Recognizer};
use app::session::Session;
use cortex_m as _; // its critical-section implementation
use cortex_m_rt::entry;
use defmt_semihosting as _;

mod counts {
    include!(concat!(env!("OUT_DIR"), "/counts.rs"));
}

/// The models this binary embeds and the scratch they need (build.rs).
mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}

type Model = Recognizer<{ models::MODEL_SCRATCH_BYTES }>;

/// Golden digits then preprocessed synthetic digits, 784 bytes each (the synthetic ones are
/// redrawn on the target; these bytes are the host's preprocessing, checked too).
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));
/// Per case: label, host class, ten f32 probability bit patterns (little-endian).
static EXPECTED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/expected.bin"));
const EXPECTED_LEN: usize = 2 + 40;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}

fn expected(case: usize) -> Option<(u8, u8, [u32; 10])> {
    let e = EXPECTED.get(case * EXPECTED_LEN..(case + 1) * EXPECTED_LEN)?;
    let mut bits = [0u32; 10];
    for (b, chunk) in bits.iter_mut().zip(e.get(2..)?.chunks_exact(4)) {
        *b = u32::from_le_bytes(chunk.try_into().ok()?);
    }
    Some((*e.first()?, *e.get(1)?, bits))
}

/// Runs case `case`: golden digits through the recognizer; synthetic ones drawn through a fresh
/// session with the finger's polls. Returns the model input and the prediction.
fn run(case: usize, recognizer: &mut Model) -> Result<([u8; 784], Prediction), &'static str> {
    if case < counts::GOLDEN {
        let image: [u8; 784] = IMAGES
            .get(case * 784..(case + 1) * 784)
            .and_then(|b| b.try_into().ok())
            .ok_or("missing image")?;
        let prediction = recognizer
            .classify(&image)
            .map_err(|_| "inference refused")?;
        return Ok((image, prediction));
    }
    // The smallest screen the layout fits is the board's (320x240); QEMU draws nothing.
    let layout = Layout::for_screen(Layout::MIN_SCREEN).ok_or("no layout")?;
    let mut session = Session::<{ models::MODEL_SCRATCH_BYTES }>::new(models::MODEL, layout)
        .map_err(|_| "the embedded model cannot run")?;
    let digit = (case - counts::GOLDEN) as u8;
    app::synthetic::draw_through_session(&mut session, digit, |_, _| {})
        .map_err(|_| "inference refused")?;
    let screen = session.screen();
    match (screen.digit, screen.prediction) {
        (Some(digit), Some(prediction)) => Ok((*digit, prediction)),
        _ => Err("nothing recognised"),
    }
}

#[entry]
fn main() -> ! {
    let Ok(mut recognizer) = Model::new(models::MODEL) else {
        defmt::error!("the embedded model cannot run");
        semihosting::process::exit(2)
    };
    let (mut matched, mut correct) = (0usize, 0usize);
    for case in 0..counts::CASES {
        let Some((label, class, bits)) = expected(case) else {
            defmt::error!("case {=usize}: missing expected output", case);
            semihosting::process::exit(3)
        };
        let (input, prediction) = match run(case, &mut recognizer) {
            Ok(outcome) => outcome,
            Err(reason) => {
                defmt::error!("case {=usize}: {=str}", case, reason);
                semihosting::process::exit(4)
            }
        };
        let same_input = IMAGES.get(case * 784..(case + 1) * 784) == Some(&input[..]);
        let same_bits = prediction
            .probabilities
            .iter()
            .zip(bits)
            .all(|(p, b)| p.to_bits() == b);
        let exact = same_input && same_bits && prediction.digit == class;
        matched += usize::from(exact);
        correct += usize::from(prediction.digit == label);
        if !exact {
            defmt::warn!(
                "case {=usize}: target {=u8}, host {=u8}, input same {=bool}, probabilities same {=bool}",
                case,
                prediction.digit,
                class,
                same_input,
                same_bits
            );
        }
    }
    let total = counts::CASES;
    defmt::info!(
        "qemu: {=usize}/{=usize} bit-exact, accuracy {=usize}/{=usize} ({=usize} golden test digits + 10 synthetic strokes)",
        matched,
        total,
        correct,
        total,
        counts::GOLDEN
    );
    semihosting::process::exit(if matched == total { 0 } else { 1 })
}
