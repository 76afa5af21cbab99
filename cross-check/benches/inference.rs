#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Batch-1 inference of cnn-bn on one thread: runtime-nostd f32 and int8 against tract and
//! ONNX Runtime (intra-op threads 1) on the same model and digits, float and int8 twin, in one
//! run. Criterion
//! measures each engine; a summary at the end times them once more back to back and prints
//! images/s and the ratio of each to runtime-nostd int8.
//!
//! `cargo bench -p cross-check --bench inference` (ONNX Runtime comes from the .venv of
//! scripts/python-env.sh or ORT_DYLIB_PATH).

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use runtime_nostd::Variant;
use trainer::artifacts::StageDir;
use trainer::data::{IMAGE_PIXELS, IMAGE_SIDE};
use trainer::stages::Stage;

/// Test digits cycled through, so no engine benefits from one input staying in cache.
const DIGITS: usize = 64;

type Engine = (String, Box<dyn FnMut(usize) -> usize>);

fn runtime_nostd(variant: Variant) -> Engine {
    let bytes = std::fs::read(
        StageDir::new(&cross_check::root().join("models"), Stage::named("cnn-bn")).flat(variant),
    )
    .expect("export the flat models: cargo run -p trainer --release -- export");
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let model = runtime_nostd::Model::parse(bytes).expect("valid model");
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut p = [0.0f32; 10];
    let run = move |i: usize| {
        let scratch = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
        model
            .infer(cross_check::test_set().image(i), scratch, &mut p)
            .expect("inference")
    };
    (format!("runtime-nostd {}", variant.name()), Box::new(run))
}

/// An ONNX file of cnn-bn: the float export, or its int8 twin.
fn onnx_file(int8: bool) -> (std::path::PathBuf, &'static str) {
    let stage = Stage::named("cnn-bn");
    if int8 {
        (cross_check::int8_onnx_path(stage), "int8")
    } else {
        (cross_check::onnx_path(stage), "f32")
    }
}

fn tract(int8: bool) -> Engine {
    use tract_onnx::prelude::*;
    let (path, kind) = onnx_file(int8);
    let plan = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.with_input_fact(0, f32::fact([1, 1, IMAGE_SIDE, IMAGE_SIDE]).into()))
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .expect("tract loads the model");
    let run = move |i: usize| {
        let x = &cross_check::test_pixels()[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
        let input = Tensor::from_shape(&[1, 1, IMAGE_SIDE, IMAGE_SIDE], x).expect("shape");
        plan.run(tvec!(input.into())).expect("tract runs").len()
    };
    (format!("tract {kind}"), Box::new(run))
}

fn onnxruntime(int8: bool) -> Engine {
    use ort::session::Session;
    use ort::session::builder::GraphOptimizationLevel;
    let (path, kind) = onnx_file(int8);
    let session = || -> Result<Session, String> {
        let env = cross_check::ort_environment()?;
        let builder = Session::builder(env).map_err(|e| e.to_string())?;
        let builder = builder
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| e.to_string())?;
        let mut builder = builder.with_intra_threads(1).map_err(|e| e.to_string())?;
        builder.commit_from_file(&path).map_err(|e| e.to_string())
    };
    let mut session = session().unwrap_or_else(|e| panic!("onnxruntime: {e}"));
    let run = move |i: usize| {
        let x = cross_check::test_pixels()[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS].to_vec();
        let input = ort::value::Tensor::from_array(([1usize, 1, IMAGE_SIDE, IMAGE_SIDE], x))
            .expect("tensor");
        let out = session
            .run(ort::inputs!["image" => input])
            .expect("onnxruntime runs");
        out["probabilities"]
            .try_extract_tensor::<f32>()
            .map(|(_, p)| p.len())
            .expect("output")
    };
    (format!("onnxruntime {kind}"), Box::new(run))
}

/// Images per second of `run` over about `seconds`.
fn throughput(run: &mut dyn FnMut(usize) -> usize, seconds: f64) -> f64 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed().as_secs_f64() < seconds {
        std::hint::black_box(run(n % DIGITS));
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn bench(c: &mut Criterion) {
    let mut engines = vec![
        runtime_nostd(Variant::Int8),
        runtime_nostd(Variant::F32),
        tract(false),
        onnxruntime(false),
        tract(true),
        onnxruntime(true),
    ];
    let mut group = c.benchmark_group("cnn-bn batch 1");
    group
        .measurement_time(Duration::from_secs(5))
        .sample_size(20);
    for (name, run) in &mut engines {
        group.bench_function(name.as_str(), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) % DIGITS;
                run(i)
            })
        });
    }
    group.finish();

    println!("\n| engine (cnn-bn, batch 1, 1 thread) | images/s | ratio to runtime-nostd i8 |");
    println!("|---|---:|---:|");
    let rates: Vec<(String, f64)> = engines
        .iter_mut()
        .map(|(name, run)| (name.clone(), throughput(run, 3.0)))
        .collect();
    for (name, rate) in &rates {
        println!("| {name} | {rate:.0} | {:.2} |", rate / rates[0].1);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
