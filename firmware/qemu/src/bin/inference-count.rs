//! Runs the boards' model (`model_embed::BOARD_STAGE`) N times on one test digit, for
//! instruction counting under QEMU's TCG `insn` plugin: `(count(N = 11) - count(N = 1)) / 10`
//! is the cost of one inference, without start-up. The variant and N are fixed at build time by
//! `MNIST_EDGE_VARIANT` (`i8` or `f32`) and `MNIST_EDGE_INFERENCES`;
//! `firmware/count-instructions.sh` builds and runs each.
#![no_std]
#![no_main]

use cortex_m as _; // its critical-section implementation
use cortex_m_rt::entry;
use defmt_semihosting as _;
use runtime_nostd::Model;

/// The models (build.rs embeds them with their scratch sizes).
mod models {
    include!(concat!(env!("OUT_DIR"), "/models.rs"));
}
static IMAGES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/images.bin"));

const fn parse_count(s: Option<&str>) -> usize {
    let Some(s) = s else { return 1 };
    let bytes = s.as_bytes();
    let (mut n, mut i) = (0, 0);
    while i < bytes.len() {
        n = n * 10 + (bytes[i] - b'0') as usize;
        i += 1;
    }
    n
}

const INFERENCES: usize = parse_count(option_env!("MNIST_EDGE_INFERENCES"));
const F32_VARIANT: bool = match option_env!("MNIST_EDGE_VARIANT") {
    Some(v) => matches!(v.as_bytes(), b"f32"),
    None => false,
};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    semihosting::process::exit(101)
}

#[entry]
fn main() -> ! {
    let bytes = if F32_VARIANT {
        models::MODEL_F32
    } else {
        models::MODEL
    };
    let Ok(model) = Model::parse(bytes) else {
        semihosting::process::exit(2)
    };
    // The larger of the two scratch sizes, so both variants run in the same binary layout.
    const SCRATCH: usize = if models::MODEL_F32_SCRATCH_BYTES > models::MODEL_SCRATCH_BYTES {
        models::MODEL_F32_SCRATCH_BYTES
    } else {
        models::MODEL_SCRATCH_BYTES
    };
    let mut scratch = runtime_nostd::Scratch::<SCRATCH>::new();
    let image = IMAGES.get(..784).unwrap_or_default();
    let mut probabilities = [0.0f32; 10];
    let mut class = 0;
    // Opaque to the optimiser, so that the builds for N = 1 and N = 11 compile to the same code
    // with another constant: otherwise start-up (the model's CRC over 357 KB) may come out an
    // instruction longer per byte in one of them and skew the difference.
    for _ in 0..core::hint::black_box(INFERENCES) {
        match model.infer(image, scratch.as_mut_bytes(), &mut probabilities) {
            Ok(c) => class = c,
            Err(_) => semihosting::process::exit(3),
        }
    }
    defmt::info!("{=usize} inferences, class {=usize}", INFERENCES, class);
    semihosting::process::exit(0)
}
