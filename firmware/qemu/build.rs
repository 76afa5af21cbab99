//! Prepares what the QEMU binary checks, computed here on the host with the same crates: the
//! 64 golden test digits and ten synthetic finger-drawn digits (drawn through an `app`
//! session), each with the host runtime-nostd int8 output (class and probability bits) it must
//! reproduce bit for bit on the Cortex-M33.

use std::path::PathBuf;

use app::session::Session;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let golden_path = root.join("tests/golden/cnn-bn.json");
    let model_path = root.join("models/cnn-bn.i8.mnef");
    println!("cargo:rerun-if-changed={}", golden_path.display());
    println!("cargo:rerun-if-changed={}", model_path.display());
    println!("cargo:rerun-if-changed=memory.x");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy("memory.x", out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());

    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&golden_path).unwrap()).unwrap();
    let mut cases: Vec<(Vec<u8>, u8)> = golden["pixels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(golden["labels"].as_array().unwrap())
        .map(|(p, l)| {
            (
                p.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u8)
                    .collect(),
                l.as_u64().unwrap() as u8,
            )
        })
        .collect();
    let golden_count = cases.len();
    for digit in 0..10u8 {
        cases.push((drawn_through_session(digit).to_vec(), digit));
    }

    let model_bytes = std::fs::read(&model_path).unwrap();
    let model = runtime_nostd::Model::parse(&model_bytes).unwrap();
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
fn drawn_through_session(digit: u8) -> [u8; 784] {
    let mut session = Session::new().unwrap();
    app::synthetic::draw_through_session(&mut session, digit, |_, _| {}).unwrap();
    *session.screen().digit.unwrap()
}
