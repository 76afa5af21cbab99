//! The app pipeline on QEMU `mps2-an505` (Cortex-M33, the RP2350's instruction set): the 64
//! golden test digits and ten synthetic finger-drawn digits (drawn and preprocessed here, on the
//! target) go through the embedded int8 cnn-bn model; every class and probability must equal,
//! bit for bit, what runtime-nostd computed on the host (build.rs). Logs go out as defmt frames
//! over semihosting; the exit status is 0 only if everything matched.
#![no_std]
#![no_main]

use app::canvas::{Canvas, SIDE};
use app::preprocess::to_mnist;
use app::recognizer::Recognizer;
use cortex_m as _; // its critical-section implementation
use cortex_m_rt::entry;
use defmt_semihosting as _;

mod counts {
    include!(concat!(env!("OUT_DIR"), "/counts.rs"));
}

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

/// The 28x28 input of case `case`: golden digits from the table, synthetic ones drawn and
/// preprocessed on the target (and compared with the host's preprocessing).
fn image(case: usize, canvas: &mut Canvas) -> Option<([u8; 784], bool)> {
    let host: [u8; 784] = IMAGES.get(case * 784..(case + 1) * 784)?.try_into().ok()?;
    if case < counts::GOLDEN {
        return Some((host, true));
    }
    canvas.clear();
    app::synthetic::draw_digit(canvas, (case - counts::GOLDEN) as u8);
    let drawn = to_mnist(canvas.pixels(), SIDE)?;
    Some((drawn, drawn == host))
}

#[entry]
fn main() -> ! {
    let Ok(mut recognizer) = Recognizer::new() else {
        defmt::error!("the embedded model does not parse");
        semihosting::process::exit(2)
    };
    let mut canvas = Canvas::new();
    let (mut matched, mut correct) = (0usize, 0usize);
    for case in 0..counts::CASES {
        let (Some((pixels, same_input)), Some((label, class, bits))) =
            (image(case, &mut canvas), expected(case))
        else {
            defmt::error!("case {=usize}: missing data", case);
            semihosting::process::exit(3)
        };
        let Ok(prediction) = recognizer.classify(&pixels) else {
            defmt::error!("case {=usize}: inference refused", case);
            semihosting::process::exit(4)
        };
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
