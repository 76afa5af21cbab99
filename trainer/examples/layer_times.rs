//! Where one training step of a conv stage spends its time, layer by layer, forward and
//! backward, on the `flex` CPU backend: each convolution and batch norm through burn's layer and
//! through [`trainer::cpu`]'s kernel (what training uses; the batch norms with the relu after
//! them), the dense head with the loss, the stage's optimizer step, and a whole step.
//!
//! ```text
//! cargo run -p trainer --release --example layer_times [STAGE] [REPEATS]   (default cnn-bn 30)
//! ```
//!
//! Figures are medians in milliseconds for a batch of the stage's size; only ratios within one
//! run mean anything (the machine's speed varies between runs).

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Distribution, Int, Tensor};
use trainer::flex_kernels::batch_norm::batch_norm_relu;
use trainer::model::{ConvNet, Model};
use trainer::stages::Stage;

/// Median of `repeats` timings (after two warm-up runs) of `run`, which returns the part to
/// time as a closure's duration in milliseconds.
fn median(repeats: usize, mut run: impl FnMut() -> f64) -> f64 {
    run();
    run();
    let mut times: Vec<f64> = (0..repeats).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Forward and backward milliseconds of `forward` on a fresh random input of `shape`.
fn time_layer<const D: usize>(
    repeats: usize,
    shape: [usize; 4],
    input_grad: bool,
    device: &Device,
    forward: impl Fn(Tensor<4>) -> Tensor<D>,
) -> (f64, f64) {
    let mut fwd = Vec::new();
    let bwd = median(repeats, || {
        let mut x = Tensor::<4>::random(shape, Distribution::Default, device);
        if input_grad {
            x = x.require_grad();
        }
        let start = Instant::now();
        let y = forward(x);
        let loss = y.sum();
        let _ = loss.clone().into_scalar::<f32>();
        fwd.push(millis(start));
        let start = Instant::now();
        let grads = loss.backward();
        drop(grads);
        millis(start)
    });
    fwd.sort_by(f64::total_cmp);
    (fwd[fwd.len() / 2], bwd)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stage: Stage = args
        .next()
        .unwrap_or_else(|| "cnn-bn".into())
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let repeats: usize = args
        .next()
        .map_or(30, |r| r.parse().expect("REPEATS is a number"));
    let device = Device::flex().autodiff();
    // As training sets them up.
    trainer::flex_kernels::flush_denormals_on_training_threads();
    trainer::flex_kernels::keep_freed_memory();
    let batch = stage.recipe().batch_size;
    let Model::Conv(net) = stage.net().init(&device) else {
        panic!("{stage} is not a conv stage: nothing to break down");
    };
    let net: ConvNet = net;
    println!("{stage}, batch {batch}, median of {repeats} (ms):");
    println!(
        "{:<28} {:>9} {:>9} {:>9}",
        "layer", "forward", "backward", "total"
    );
    let row = |name: &str, (f, b): (f64, f64)| {
        println!("{name:<28} {f:>9.2} {b:>9.2} {:>9.2}", f + b);
        f + b
    };
    let (mut side, mut channels) = (28, 1);
    let (mut burn_total, mut ours_total, mut rest_total) = (0.0, 0.0, 0.0);
    for (i, block) in net.convs.iter().enumerate() {
        let [filters, _, kernel, _] = block.conv.weight.dims();
        let [stride, _] = block.conv.stride;
        let name = format!("conv{} {kernel}x{kernel}x{filters} s{stride}", i + 1);
        let input = [batch, channels, side, side];
        let burn = time_layer(repeats, input, i > 0, &device, |x| block.conv.forward(x));
        let ours = time_layer(repeats, input, i > 0, &device, |x| block.conv(x));
        burn_total += row(&format!("{name} (burn)"), burn);
        ours_total += row(&format!("{name} (cpu)"), ours);
        side = side.div_ceil(stride);
        channels = filters;
        let output = [batch, channels, side, side];
        match &block.norm {
            Some(norm) => {
                let burn = time_layer(repeats, output, true, &device, |x| relu(norm.forward(x)));
                let ours = time_layer(repeats, output, true, &device, |x| batch_norm_relu(norm, x));
                burn_total += row("  batch norm + relu (burn)", burn);
                ours_total += row("  batch norm + relu (cpu)", ours);
            }
            None => rest_total += row("  relu", time_layer(repeats, output, true, &device, relu)),
        }
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let targets: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    let targets = Tensor::<1, Int>::from_data(targets.as_slice(), &device);
    let head = time_layer(repeats, [batch, channels, side, side], true, &device, |x| {
        loss_fn
            .forward(net.head(x.flatten::<2>(1, 3)), targets.clone())
            .unsqueeze::<1>()
    });
    let head = row("dense head + loss", head);

    let mut model = Model::Conv(net);
    let mut optim = trainer::train::optimizer(stage.recipe().optimizer);
    let images = Tensor::<4>::random([batch, 1, 28, 28], Distribution::Default, &device);
    let optimizer = median(repeats, || {
        let grads = {
            let loss = loss_fn.forward(model.forward(images.clone()), targets.clone());
            GradientsParams::from_grads(loss.backward(), &model)
        };
        let start = Instant::now();
        model = optim.step(1e-3, model.clone(), grads);
        let _ = model.classes();
        millis(start)
    });
    println!("{:<28} {:>9} {:>9} {optimizer:>9.2}", "optimizer", "", "");
    let (mut forwards, mut backwards) = (Vec::new(), Vec::new());
    let step = median(repeats, || {
        let start = Instant::now();
        let loss = loss_fn.forward(model.forward(images.clone()), targets.clone());
        let _ = loss.clone().into_scalar::<f32>();
        forwards.push(millis(start));
        let backward = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        backwards.push(millis(backward));
        model = optim.step(1e-3, model.clone(), grads);
        let _ = model.classes();
        millis(start)
    });
    let middle = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (forward, backward) = (middle(forwards), middle(backwards));
    println!(
        "{:<28} {forward:>9.2} {backward:>9.2}",
        "whole step: forward, backward"
    );
    println!("{:<28} {:>9} {:>9} {step:>9.2}", "whole step", "", "");
    println!(
        "convolutions and norms (with their relus): burn {burn_total:.2} ms, cpu {ours_total:.2} ms \
         ({:.2}x); other relus {rest_total:.2} ms, head {head:.2} ms, optimizer {optimizer:.2} ms",
        burn_total / ours_total
    );
}
