//! The int8 inference split over two cores ([`Model::infer_parallel`]) against the whole one:
//! every committed model, on the golden digits, through one core ([`Serial`]), two threads,
//! and the halves the other way round, gives the same answer and probabilities bit for bit.

use std::path::{Path, PathBuf};

use mnist_files::{GOLDEN_STAGE, Golden};
use runtime_nostd::{InferError, Model, Parallel, Serial, Variant};

/// The other half on a second thread, as a board's second core.
struct Threads;

impl Parallel for Threads {
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut()) {
        std::thread::scope(|scope| {
            let other = scope.spawn(there);
            here();
            other.join().expect("the other half panicked");
        });
    }
}

/// Both halves on the caller's thread, the caller's first.
struct HereFirst;

impl Parallel for HereFirst {
    fn join(&mut self, there: &mut (dyn FnMut() + Send), here: &mut dyn FnMut()) {
        here();
        there();
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed(variant: Variant) -> Vec<(String, Vec<u8>)> {
    let models = root().join("models");
    let suffix = format!(".{}.mnef", variant.name());
    let mut files: Vec<_> = std::fs::read_dir(&models)
        .unwrap_or_else(|e| panic!("{}: {e}", models.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(&suffix))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {suffix} files in {}; run `cargo run -p trainer --release -- export`",
        models.display()
    );
    files
}

fn golden_images() -> Vec<Vec<u8>> {
    let path = Golden::path(&root(), GOLDEN_STAGE);
    Golden::read(&path).unwrap_or_else(|e| panic!("{e}")).pixels
}

/// The answer and the probabilities' bits.
fn whole(model: &Model<'_>, image: &[u8]) -> (usize, Vec<u32>) {
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut p = vec![0.0f32; model.classes()];
    let class = model
        .infer(image, bytemuck::cast_slice_mut(&mut scratch), &mut p)
        .unwrap();
    (class, p.iter().map(|x| x.to_bits()).collect())
}

fn split(model: &Model<'_>, image: &[u8], parallel: &mut dyn Parallel) -> (usize, Vec<u32>) {
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut helper = vec![0u8; model.helper_scratch_bytes()];
    let mut p = vec![0.0f32; model.classes()];
    let class = model
        .infer_parallel(
            image,
            bytemuck::cast_slice_mut(&mut scratch),
            &mut helper,
            &mut p,
            parallel,
        )
        .unwrap();
    (class, p.iter().map(|x| x.to_bits()).collect())
}

#[test]
fn every_split_gives_the_whole_inference_bit_for_bit() {
    let images = golden_images();
    for (name, bytes) in committed(Variant::Int8)
        .iter()
        .chain(&committed(Variant::F32))
    {
        let model = Model::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, image) in images.iter().enumerate() {
            let expected = whole(&model, image);
            let parallels: [(&str, &mut dyn Parallel); 3] = [
                ("serial", &mut Serial),
                ("threads", &mut Threads),
                ("here first", &mut HereFirst),
            ];
            for (how, parallel) in parallels {
                assert_eq!(
                    split(&model, image, parallel),
                    expected,
                    "{name}, golden digit {i}, {how}"
                );
            }
        }
    }
}

#[test]
fn a_short_helper_scratch_is_refused() {
    let (name, bytes) = &committed(Variant::Int8)[0];
    let model = Model::parse(bytes).unwrap();
    let needed = model.helper_scratch_bytes();
    assert!(needed > 0, "{name}");
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut helper = vec![0u8; needed - 1];
    let mut p = vec![0.0f32; model.classes()];
    let image = vec![0u8; model.input_shape().len()];
    assert_eq!(
        model.infer_parallel(
            &image,
            bytemuck::cast_slice_mut(&mut scratch),
            &mut helper,
            &mut p,
            &mut Serial
        ),
        Err(InferError::HelperScratchTooSmall {
            given: needed - 1,
            needed
        }),
        "{name}"
    );
}
