//! Prepares what the QEMU binary checks, computed here on the host with the same crates: the
//! 64 golden test digits and ten synthetic finger-drawn digits (drawn through an `app`
//! session), each with the host runtime-nostd int8 output (class and probability bits) it must
//! reproduce bit for bit on the Cortex-M33.

use std::path::PathBuf;

use app::layout::Layout;
use app::session::Session;
use mnist_files::Golden;

/// The scratch the host sessions give the model: the firmware's comes from its own build
/// (`model-embed`); this one only needs to be large enough, which `Session::new` checks.
const HOST_SCRATCH: usize = 64 * 1024;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let golden_path = Golden::path(&root, mnist_files::GOLDEN_STAGE);
    let model_path = model_embed::board_model(&root, "i8");
    println!("cargo:rerun-if-changed={}", golden_path.display());
    println!("cargo:rerun-if-changed=memory.x");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    // mps2-an505 has 4 MB of data RAM (memory.x): room for the f32 twin's scratch too.
    model_embed::embed(
        &[
            ("MODEL", model_path.as_path()),
            (
                "MODEL_F32",
                model_embed::board_model(&root, "f32").as_path(),
            ),
        ],
        1 << 20,
    );

    let golden = Golden::read(&golden_path).unwrap_or_else(|e| panic!("{e}"));
    let mut cases: Vec<(Vec<u8>, u8)> = golden
        .pixels
        .iter()
        .cloned()
        .zip(golden.labels.iter().copied())
        .collect();
    let golden_count = cases.len();
    let model_bytes: &'static [u8] =
        Box::leak(std::fs::read(&model_path).unwrap().into_boxed_slice());
    for digit in 0..10u8 {
        cases.push((drawn_through_session(model_bytes, digit).to_vec(), digit));
    }

    let model = runtime_nostd::Model::parse(model_bytes).unwrap();
    let mut scratch = vec![0u8; model.scratch_bytes()];
    let mut images = Vec::new();
    let mut expected = Vec::new();
    for (pixels, label) in &cases {
        let mut p = [0.0f32; 10];
        let class = model.infer(pixels, &mut scratch, &mut p).unwrap();
        images.extend_from_slice(pixels);
        expected.push(*label);
        expected.push(class as u8);
        for v in p {
            expected.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
    std::fs::write(out.join("images.bin"), images).unwrap();
    std::fs::write(out.join("expected.bin"), expected).unwrap();
    std::fs::write(
        out.join("counts.rs"),
        format!(
            "pub const GOLDEN: usize = {golden_count};\npub const CASES: usize = {};\n",
            cases.len()
        ),
    )
    .unwrap();
}

/// The 28x28 digit a session made of the synthetic finger drawing `digit` (what the target
/// must reproduce from the same polls).
fn drawn_through_session(model: &'static [u8], digit: u8) -> [u8; 784] {
    let layout = Layout::for_screen(Layout::MIN_SCREEN).unwrap();
    let mut session = Session::<HOST_SCRATCH>::new(model, layout).unwrap();
    app::synthetic::draw_through_session(&mut session, digit, |_, _| {}).unwrap();
    *session.screen().digit.unwrap()
}
