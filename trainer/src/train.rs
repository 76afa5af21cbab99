//! The training loop: seeded initialisation and shuffling, per-epoch learning rate, progress bars,
//! and per-epoch metrics on the training stream and the test set.

use std::time::Instant;

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::data::{IMAGE_SIDE, Mnist, Shuffler};
use crate::flex_kernels::adam::FusedAdam;
use crate::model::Model;
use crate::stages::{LrSchedule, OptimizerKind, Stage};

/// Adam's betas: Keras' defaults (burn's too).
const ADAM_BETAS: (f32, f32) = (0.9, 0.999);
/// Keras' Adam epsilon (burn defaults to 1e-5).
const ADAM_EPSILON: f32 = 1e-7;
/// Images per forward pass when evaluating.
const EVAL_BATCH: usize = 1000;
/// Mini-batches between progress-bar updates: each reads the running loss back from the device,
/// which makes a GPU wait, so not every step.
const PROGRESS_EVERY: usize = 50;
/// Mixed into the seed of the augmentation's random stream.
const AUGMENT_STREAM: u64 = 0xA06_3E47;

/// Knobs of one training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Epochs to run (the recipe's 10 by default).
    pub epochs: usize,
    /// Seeds weight initialisation, dropout and shuffling.
    pub seed: u64,
    /// Stop each epoch after this many mini-batches (smoke tests).
    pub max_steps_per_epoch: Option<usize>,
    /// The per-epoch learning rate, when not the recipe's (a smoke run's compressed schedule).
    pub lr_schedule: Option<LrSchedule>,
    /// After the last epoch, replace the batch-norm running statistics (if the network has
    /// batch norms) with the mean of this many training mini-batches' statistics under the
    /// final weights ([`refresh_batch_norm`]).
    pub refresh_batch_norm: Option<usize>,
    /// Draw indicatif progress bars (off in tests).
    pub progress: bool,
    /// Outputs of the network: the data set's classes (10 for MNIST).
    pub classes: usize,
}

/// What one epoch measured, as written to `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate used during the epoch.
    pub lr: f64,
    /// Mean cross-entropy over the epoch's mini-batches (training mode, as Keras reports).
    pub train_loss: f64,
    /// Accuracy over the epoch's mini-batches (training mode).
    pub train_accuracy: f64,
    /// Cross-entropy on the test set in inference mode.
    pub validation_loss: f64,
    /// Accuracy on the test set in inference mode.
    pub validation_accuracy: f64,
    /// Wall-clock seconds of the training part of the epoch.
    pub seconds: f64,
    /// Training throughput.
    pub images_per_second: f64,
    /// Process CPU time over wall time during the training part (2.0: two cores busy), where
    /// the system tells (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_utilisation: Option<f64>,
}

/// CPU seconds the process has used, all threads (Linux `/proc/self/stat`), or `None`.
fn process_cpu_seconds() -> Option<f64> {
    // utime and stime are fields 14 and 15, counted in USER_HZ ticks (100 per second on Linux);
    // the command name before them is in parentheses and may hold spaces.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// A model in inference mode evaluated on a data set.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Fraction of correct predictions.
    pub accuracy: f64,
    /// Predicted digit per image.
    pub predictions: Vec<u8>,
    /// Softmax probabilities, `classes * len` values.
    pub probabilities: Vec<f32>,
}

/// Images `[n, 1, 28, 28]` for the given indices.
pub fn image_batch(data: &Mnist, indices: &[usize], device: &Device) -> Tensor<4> {
    let pixels = crate::data::scaled_pixels(data, indices);
    Tensor::from_data(
        TensorData::new(pixels, [indices.len(), 1, IMAGE_SIDE, IMAGE_SIDE]),
        device,
    )
}

/// Digits `[n]` for the given indices.
pub fn label_batch(data: &Mnist, indices: &[usize], device: &Device) -> Tensor<1, Int> {
    let labels: Vec<i64> = indices.iter().map(|&i| i64::from(data.labels[i])).collect();
    Tensor::from_data(TensorData::new(labels, [indices.len()]), device)
}

/// How many of the batch's predictions are right, `[1]`, left on the device.
fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    let predicted = logits.argmax(1).flatten::<1>(0, 1);
    predicted.equal(labels).int().sum()
}

/// The optimizer a stage trains with (burn's; Adam fused into one pass per tensor on `flex`).
pub fn optimizer(kind: OptimizerKind) -> ModuleOptimizer {
    match kind {
        OptimizerKind::Sgd => SgdConfig::new().init(),
        OptimizerKind::Adam => FusedAdam::new(ADAM_BETAS.0, ADAM_BETAS.1, ADAM_EPSILON).init(),
    }
}

fn progress_bar(
    stage: Stage,
    epoch: usize,
    epochs: usize,
    steps: usize,
    show: bool,
) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>22} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{stage} {epoch}/{epochs}"));
    bar
}

/// `stage`'s network with `classes` outputs, its weights drawn from the CPU backend's generator
/// seeded with `seed`, as trainable parameters on `train_device` (an autodiff device).
///
/// The weights and the dropout masks (`model::apply_dropout`) come from the CPU backend on every
/// backend, in the same order, so a GPU run starts where the flex run of the same seed starts,
/// draws the same masks and differs from it only by the kernels' summation order (what
/// `scripts/vulkan-check.sh` compares).
pub fn initial_model(stage: Stage, classes: usize, seed: u64, train_device: &Device) -> Model {
    let host = Device::flex();
    host.seed(seed);
    let model = stage.net().with_classes(classes).init(&host.autodiff());
    model.map(&mut DrawOnHost {
        device: train_device.clone(),
    })
}

/// Gives each parameter burn has not drawn yet a home on `device` while keeping its draw on the
/// host, at its first use.
///
/// Why: burn draws a parameter lazily, where and when it is first read (the first forward pass,
/// between the dropout masks of the layers before it). Moved to a GPU undrawn, the weights
/// would come from the GPU's own generator, another stream (dense1 on lavapipe then ended its
/// first epoch 0.8 pt below flex); drawn all at once before the move, they would come out of
/// the host's stream in another order than on flex, changing every seed's run there.
struct DrawOnHost {
    device: Device,
}

impl ModuleMapper for DrawOnHost {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if param.is_initialized() {
            return param.fork(&self.device);
        }
        let (id, shape) = (param.id, param.lazy_shape());
        let draw = move |device: &Device, _: bool| {
            let value = param.val();
            let trainable = value.is_require_grad();
            // Detached: a move of an autodiff tensor is recorded in its graph, and the weights
            // must be leaves of their own, not hang off the host's.
            let moved = value.to_device(device).detach();
            if trainable {
                moved.require_grad()
            } else {
                moved
            }
        };
        // burn's initialisers make trainable parameters only (buffers such as batch norm's
        // running statistics exist drawn and take the branch above).
        Param::uninitialized(id, draw, self.device.clone(), true, shape)
    }
}

/// Trains `stage` from scratch and returns the model (inference mode) and its metrics.
pub fn train(
    stage: Stage,
    train_set: &Mnist,
    test_set: &Mnist,
    device: &Device,
    options: &TrainOptions,
) -> (Model, Vec<EpochMetrics>) {
    let recipe = stage.recipe();
    crate::flex_kernels::set_up_training(device);
    device.seed(options.seed);
    let train_device = device.clone().autodiff();
    let mut model = initial_model(stage, options.classes, options.seed, &train_device);
    let mut optim = optimizer(recipe.optimizer);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut shuffler = Shuffler::new(train_set.len(), options.seed);
    // Its own stream, so that augmenting leaves the shuffling of the same seed unchanged.
    let mut augment_rng = StdRng::seed_from_u64(options.seed ^ AUGMENT_STREAM);
    let mut history = Vec::new();

    for epoch in 0..options.epochs {
        let lr = options.lr_schedule.unwrap_or(recipe.schedule).at(epoch);
        let mut batches = shuffler.epoch(recipe.batch_size);
        if let Some(max) = options.max_steps_per_epoch {
            batches.truncate(max);
        }
        let bar = progress_bar(
            stage,
            epoch + 1,
            options.epochs,
            batches.len(),
            options.progress,
        );
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
        // Running sums stay on the device (a read makes a GPU wait); read at the progress
        // updates and once at the end of the epoch.
        let mut loss_sum = Tensor::<1>::zeros([1], &train_device);
        let mut hits = Tensor::<1, Int>::zeros([1], &train_device);
        let mut seen = 0usize;
        for (step, indices) in batches.iter().enumerate() {
            // Each batch is uploaded on its own (a few hundred KB): the whole training set in
            // one tensor (188 MB as f32) is over the 128 MiB storage-buffer binding limit that
            // wgpu and WebGPU request by default and that software Vulkan drivers report.
            let images = match &recipe.augment {
                None => image_batch(train_set, indices, &train_device),
                // Distorted on the host: a fresh draw per image per epoch.
                Some(augment) => {
                    let images = indices.iter().map(|&i| train_set.image(i));
                    let pixels = augment.batch(images, &mut augment_rng);
                    let shape = [indices.len(), 1, IMAGE_SIDE, IMAGE_SIDE];
                    Tensor::from_data(TensorData::new(pixels, shape), &train_device)
                }
            };
            let labels = label_batch(train_set, indices, &train_device);
            let logits = model.forward(images);
            let loss = loss_fn.forward(logits.clone(), labels.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);

            loss_sum = loss_sum + loss.detach() * indices.len() as f32;
            hits = hits + correct(logits.detach(), labels);
            seen += indices.len();
            if options.progress && (step + 1) % PROGRESS_EVERY == 0 {
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.4} acc {:.4} {:.0} img/s",
                    f64::from(loss_sum.clone().into_scalar::<f32>()) / seen as f64,
                    hits.clone().into_scalar::<i64>() as f64 / seen as f64,
                    seen as f64 / secs
                ));
            }
            bar.inc(1);
        }
        let loss_sum = f64::from(loss_sum.into_scalar::<f32>());
        let hits = hits.into_scalar::<i64>() as usize;
        let seconds = start.elapsed().as_secs_f64();
        let cpu_utilisation = process_cpu_seconds()
            .zip(cpu_start)
            .map(|(end, begin)| (end - begin) / seconds.max(1e-9));
        bar.finish_and_clear();
        let eval = evaluate(&model.valid(), test_set, device);
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: hits as f64 / seen.max(1) as f64,
            validation_loss: eval.loss,
            validation_accuracy: eval.accuracy,
            seconds,
            images_per_second: seen as f64 / seconds.max(1e-9),
            cpu_utilisation,
        };
        if options.progress {
            println!(
                "{stage:>15} epoch {:>2}/{}: lr {:.5} loss {:.4} acc {:.4} | val loss {:.4} acc {:.4} | {:.1} s, {:.0} img/s, {:.2} cores",
                metrics.epoch,
                options.epochs,
                lr,
                metrics.train_loss,
                metrics.train_accuracy,
                metrics.validation_loss,
                metrics.validation_accuracy,
                seconds,
                metrics.images_per_second,
                cpu_utilisation.unwrap_or(f64::NAN)
            );
        }
        history.push(metrics);
    }
    // Networks without batch norms have nothing to refresh.
    let has_batch_norm = !model.batch_norms_mut().is_empty();
    if let Some(count) = options.refresh_batch_norm.filter(|_| has_batch_norm) {
        // The first mini-batches of a fresh shuffle of the same seed: the same on every device.
        let mut batches = Shuffler::new(train_set.len(), options.seed).epoch(recipe.batch_size);
        batches.truncate(count);
        model = refresh_batch_norm(model, train_set, &batches, &train_device);
        // The last epoch's test figures are those of the model returned.
        if let Some(last) = history.last_mut() {
            let eval = evaluate(&model.valid(), test_set, device);
            last.validation_loss = eval.loss;
            last.validation_accuracy = eval.accuracy;
            if options.progress {
                println!(
                    "{stage:>15} batch norms measured over {} mini-batches: val loss {:.4} acc {:.4}",
                    batches.len(),
                    eval.loss,
                    eval.accuracy
                );
            }
        }
    }
    (model.valid(), history)
}

/// Sets every batch norm's running statistics to the mean of the statistics of `batches` under
/// the model's current weights (Wu & Johnson's "precise batch norm": the mean over batches, each
/// batch's variance as training computes it).
///
/// The running statistics are an average with a time constant of 100 steps
/// ([`crate::model::BATCH_NORM_MOMENTUM`]) over weights that change while it runs; a few
/// hundred steps of a smoke run leave statistics that do not match the final weights, and
/// its test accuracy then swings by tens of points from one seed to the next (cnn-bn after
/// 300 steps: 64% to 96% over seeds 0-4) although the training losses agree within 20%.
pub fn refresh_batch_norm(
    mut model: Model,
    data: &Mnist,
    batches: &[Vec<usize>],
    device: &Device,
) -> Model {
    for (done, indices) in batches.iter().enumerate() {
        // The k-th batch weighs 1/k: a running mean of the batches' statistics.
        for norm in model.batch_norms_mut() {
            norm.momentum = 1.0 / (done + 1) as f64;
        }
        // Training mode: the forward pass updates the statistics; its graph is dropped.
        let _ = model.forward(image_batch(data, indices, device));
    }
    for norm in model.batch_norms_mut() {
        norm.momentum = crate::model::BATCH_NORM_MOMENTUM;
    }
    model
}

/// Runs `model` (already in inference mode) over all of `data`.
pub fn evaluate(model: &Model, data: &Mnist, device: &Device) -> Evaluation {
    let loss_fn: CrossEntropyLoss = CrossEntropyLossConfig::new().init(device);
    let (mut loss_sum, mut hits) = (0.0f64, 0usize);
    let mut predictions = Vec::with_capacity(data.len());
    let mut probabilities = Vec::new();
    let all: Vec<usize> = (0..data.len()).collect();
    for indices in all.chunks(EVAL_BATCH) {
        let logits = model.forward(image_batch(data, indices, device));
        let labels = label_batch(data, indices, device);
        let loss = loss_fn.forward(logits.clone(), labels.clone());
        loss_sum += f64::from(loss.into_scalar::<f32>()) * indices.len() as f64;
        let classes = logits.dims()[1];
        let probs = burn::tensor::activation::softmax(logits, 1).into_data();
        let probs = probs.as_slice::<f32>().unwrap_or_default();
        for (row, &i) in probs.chunks(classes).zip(indices) {
            let digit = argmax(row);
            hits += usize::from(digit == data.labels[i]);
            predictions.push(digit);
        }
        probabilities.extend_from_slice(probs);
    }
    let n = data.len().max(1) as f64;
    Evaluation {
        loss: loss_sum / n,
        accuracy: hits as f64 / n,
        predictions,
        probabilities,
    }
}

/// Index of the largest value (the first on ties), as a digit.
pub fn argmax(row: &[f32]) -> u8 {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_cpu_time_is_read_on_linux() {
        if cfg!(target_os = "linux") {
            let before = process_cpu_seconds().expect("/proc/self/stat parses");
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed().as_millis() < 30 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            assert!(process_cpu_seconds().expect("still parses") >= before);
        }
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 0.7, 0.7, 0.0]), 1);
        assert_eq!(argmax(&[1.0]), 0);
    }
}
