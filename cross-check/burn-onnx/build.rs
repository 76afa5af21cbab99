//! Generates burn code from two of our ONNX exports with burn-onnx's `ModelGen`, the way a user
//! importing them into a burn project would.

fn main() {
    for stage in ["cnn-bn", "dense-deep"] {
        let path = format!("../../models/{stage}.onnx");
        println!("cargo:rerun-if-changed={path}");
        assert!(
            std::path::Path::new(&path).is_file(),
            "{path} is missing: export it with `cargo run -p trainer --release -- export`"
        );
        burn_onnx::ModelGen::new()
            .input(&path)
            .out_dir("model/")
            .run_from_script();
    }
}
