//! Puts the chosen chip's memory layout where cortex-m-rt's `link.x` includes it from: the
//! Pico 2 (RP2350, feature `rp2350`, the default) or the original Pico (RP2040, feature
//! `rp2040`, whose boot2 block also needs embassy-rp's `link-rp.x`); and embeds the model this
//! binary runs, with the scratch size it needs (`model-embed`).

use std::path::PathBuf;

fn main() {
    let chip = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let memory = match (chip("RP2350"), chip("RP2040")) {
        (true, false) => "memory-rp2350.x",
        (false, true) => {
            println!("cargo:rustc-link-arg-bins=-Tlink-rp.x");
            "memory-rp2040.x"
        }
        _ => panic!(
            "pico-restouch: enable exactly one chip feature: `rp2350` (Pico 2, the default) or \
             `--no-default-features --features rp2040` (Pico)"
        ),
    };
    if chip("RP2040") && chip("MODEL_IN_RAM") {
        panic!(
            "pico-restouch: the `model-in-ram` feature needs the RP2350's 512 KB of SRAM; the RP2040's \
             264 KB cannot hold the model besides the program (build the Pico with \
             `--no-default-features --features rp2040`)"
        );
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(memory, out.join("memory.x")).expect("the memory layouts are next to build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
    let root = std::path::Path::new("../..");
    model_embed::embed(
        &[("MODEL", model_embed::board_model(root, "i8"))],
        model_embed::BOARD_SCRATCH_BYTES,
    );
}
