//! Batch norm in training mode, followed by relu, for the `flex` CPU backend: two passes for
//! the statistics, one for the output, and a backward pass of two, per channel on all cores.
//!
//! Why: burn's generic `batch_norm_train` (which `flex` uses) swaps the batch and channel axes
//! and copies the activation to reduce per channel, twice forward and twice backward, then runs
//! a chain of element-wise kernels; for the codelab's first layer that cost more than the
//! convolution itself. Same function, same statistics (biased variance, as burn and Keras).
//! The relu that follows every batch norm of the codelab's networks is applied in the output
//! pass and its mask in the backward pass (recomputed from the input), which saves a pass over
//! the activation each way and the tensor between.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Dispatch, ExtensionType, Flex, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::activation::relu;
use burn::tensor::{Shape, Tensor};
use rayon::prelude::*;

use super::{f32_values, flex_tensor};

/// What a training-mode batch norm returns.
#[derive(ExtensionType)]
pub struct BatchNormTrained<B: burn::backend::Backend> {
    /// The normalised, scaled and shifted input, through relu.
    pub output: FloatTensor<B>,
    /// Per-channel mean of the batch, `[channels]` (no gradient).
    pub mean: FloatTensor<B>,
    /// Per-channel biased variance of the batch, `[channels]` (no gradient).
    pub variance: FloatTensor<B>,
}

/// The operation burn's dispatch routes to [`Flex`] and its autodiff.
#[backend_extension(Flex, Autodiff)]
pub trait CpuBatchNorm: burn::backend::Backend {
    /// `relu(gamma * (x - mean) / sqrt(variance + epsilon) + beta)`, with the batch's own
    /// per-channel statistics.
    ///
    /// # Shapes
    /// - input: `[batch, channels, ...]`
    /// - gamma, beta: `[channels]`
    /// - output: as input; mean, variance: `[channels]`
    fn cpu_batch_norm_relu_train(
        input: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BatchNormTrained<Self>;
}

/// `[batch, channels, rest]`: every activation is `planes` blocks of `plane` values per image.
#[derive(Debug, Clone, Copy)]
struct Layout {
    batch: usize,
    channels: usize,
    plane: usize,
}

impl Layout {
    fn of(shape: &Shape) -> Self {
        let (batch, channels) = (shape[0], shape[1]);
        let plane = shape.num_elements() / (batch * channels).max(1);
        Layout {
            batch,
            channels,
            plane,
        }
    }

    fn count(&self) -> f64 {
        (self.batch * self.plane) as f64
    }

    /// The values of channel `c`, image by image.
    fn channel<'a>(&self, values: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        (0..self.batch).map(move |b| &values[(b * self.channels + c) * self.plane..][..self.plane])
    }

    /// Per-channel `f(channel)`, computed in parallel.
    fn per_channel<T: Send>(&self, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
        (0..self.channels).into_par_iter().map(f).collect()
    }

    /// `out[b, c, i] = f(c, x[b, c, i])`..., written image by image in parallel.
    fn map_images(&self, len: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync) -> Vec<f32> {
        let mut out = vec![0.0f32; len];
        out.par_chunks_mut(self.channels * self.plane)
            .enumerate()
            .for_each(|(b, image)| {
                for (c, plane) in image.chunks_exact_mut(self.plane).enumerate() {
                    f(b, c, plane);
                }
            });
        out
    }
}

/// Lanes of the partial sums below: wide enough for the compiler to vectorise the loops (the
/// lanes are added up at the end, in f64).
const LANES: usize = 16;

/// `sum(f(a[i], b[i]))` in [`LANES`] f32 partial sums, totalled in f64.
fn lane_sum(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let (a_body, b_body) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f64 = a_body
        .remainder()
        .iter()
        .zip(b_body.remainder())
        .map(|(&a, &b)| f64::from(f(a, b)))
        .sum();
    for (a, b) in a_body.zip(b_body) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += f(a, b);
        }
    }
    lanes.iter().map(|&l| f64::from(l)).sum::<f64>() + tail
}

/// Per-channel mean, biased variance and inverse standard deviation of `x`; two passes (the
/// mean, then squares about it), as burn computes them.
fn statistics(x: &[f32], layout: Layout, epsilon: f64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let stats = layout.per_channel(|c| {
        let sum: f64 = layout.channel(x, c).map(|p| lane_sum(p, p, |v, _| v)).sum();
        let mean = (sum / layout.count()) as f32;
        let squares: f64 = layout
            .channel(x, c)
            .map(|p| lane_sum(p, p, |v, _| (v - mean) * (v - mean)))
            .sum();
        let variance = squares / layout.count();
        (
            mean,
            variance as f32,
            (1.0 / (variance + epsilon).sqrt()) as f32,
        )
    });
    let mean = stats.iter().map(|s| s.0).collect();
    let variance = stats.iter().map(|s| s.1).collect();
    let inv_std = stats.iter().map(|s| s.2).collect();
    (mean, variance, inv_std)
}

/// The forward pass; also returns what the backward pass needs: mean and inverse std.
fn forward(
    input: &FlexTensor,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    epsilon: f64,
) -> (BatchNormTrained<Flex>, Vec<f32>, Vec<f32>) {
    let shape = input.layout().shape().clone();
    let layout = Layout::of(&shape);
    let x = f32_values(input);
    let (gamma, beta) = (f32_values(gamma), f32_values(beta));
    let (mean, variance, inv_std) = statistics(&x, layout, epsilon);
    let output = layout.map_images(x.len(), |b, c, out| {
        let scale = gamma[c] * inv_std[c];
        let shift = beta[c] - mean[c] * scale;
        let x = &x[(b * layout.channels + c) * layout.plane..][..layout.plane];
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v * scale + shift).max(0.0);
        }
    });
    let channels = Shape::from([layout.channels]);
    let trained = BatchNormTrained {
        output: flex_tensor(output, shape),
        mean: flex_tensor(mean.clone(), channels.clone()),
        variance: flex_tensor(variance, channels),
    };
    (trained, mean, inv_std)
}

impl CpuBatchNorm for Flex {
    fn cpu_batch_norm_relu_train(
        input: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BatchNormTrained<Self> {
        forward(&input, &gamma, &beta, epsilon).0
    }
}

#[derive(Debug)]
struct BatchNormBackward;

/// What the backward pass keeps of the forward one.
#[derive(Debug, Clone)]
struct Saved {
    input: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    /// The batch's mean and inverse standard deviation, per channel.
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Backward<Flex, 3> for BatchNormBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [input_node, gamma_node, beta_node] = ops.parents;
        let Saved {
            input,
            gamma,
            beta,
            mean,
            inv_std,
        } = ops.state;
        let shape = input.layout().shape().clone();
        let layout = Layout::of(&shape);
        let (x, gamma, beta) = (f32_values(&input), f32_values(&gamma), f32_values(&beta));
        let grad = grads.consume::<Flex>(&ops.node);
        let dy = f32_values(&grad);
        // The gradient reaching the batch norm's output: dy where relu let the value through
        // (the output recomputed from x, as the forward pass did).
        let passed = |c: usize| {
            let scale = gamma[c] * inv_std[c];
            let shift = beta[c] - mean[c] * scale;
            move |dy: f32, x: f32| if x * scale + shift > 0.0 { dy } else { 0.0 }
        };
        // Per channel: sum of that gradient (beta's) and of it times x_hat (gamma's).
        let sums = layout.per_channel(|c| {
            let (mut sum, mut sum_hat) = (0.0f64, 0.0f64);
            let passed = passed(c);
            for (dy, x) in layout.channel(&dy, c).zip(layout.channel(&x, c)) {
                sum += lane_sum(dy, x, passed);
                sum_hat += lane_sum(dy, x, |dy, x| passed(dy, x) * (x - mean[c]));
            }
            (sum, sum_hat * f64::from(inv_std[c]))
        });
        let channels = Shape::from([layout.channels]);
        if let Some(node) = beta_node {
            let sum = sums.iter().map(|s| s.0 as f32).collect();
            grads.register::<Flex>(node.id, flex_tensor(sum, channels.clone()));
        }
        if let Some(node) = gamma_node {
            let sum_hat = sums.iter().map(|s| s.1 as f32).collect();
            grads.register::<Flex>(node.id, flex_tensor(sum_hat, channels));
        }
        if let Some(node) = input_node {
            let n = layout.count();
            // dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))
            let dx = layout.map_images(x.len(), |b, c, out| {
                let at = (b * layout.channels + c) * layout.plane;
                let (dy, x) = (&dy[at..][..layout.plane], &x[at..][..layout.plane]);
                let scale = gamma[c] * inv_std[c];
                let mean_dy = (sums[c].0 / n) as f32;
                let mean_dy_hat = (sums[c].1 / n) as f32;
                let passed = passed(c);
                for ((o, &dy), &x) in out.iter_mut().zip(dy).zip(x) {
                    let hat = (x - mean[c]) * inv_std[c];
                    *o = scale * (passed(dy, x) - mean_dy - hat * mean_dy_hat);
                }
            });
            grads.register::<Flex>(node.id, flex_tensor(dx, shape));
        }
    }
}

impl<C: CheckpointStrategy> CpuBatchNorm for Autodiff<Flex, C> {
    fn cpu_batch_norm_relu_train(
        input: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> BatchNormTrained<Self> {
        let prepared = BatchNormBackward
            .prepare::<C>([input.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful();
        let input = input.into_primitive();
        let gamma = gamma.into_primitive();
        let beta = beta.into_primitive();
        let (trained, mean, inv_std) = forward(&input, &gamma, &beta, epsilon);
        let output = match prepared {
            OpsKind::Tracked(prep) => {
                let saved = Saved {
                    input,
                    gamma,
                    beta,
                    mean,
                    inv_std,
                };
                prep.finish(saved, trained.output)
            }
            OpsKind::UnTracked(prep) => prep.finish(trained.output),
        };
        BatchNormTrained {
            output,
            mean: Self::from_inner(trained.mean),
            variance: Self::from_inner(trained.variance),
        }
    }
}

/// `relu(norm.forward(x))`, computed by [`CpuBatchNorm`] on the `flex` backend when the layer
/// trains (autodiff device, training flag on); burn's own `BatchNorm::forward` and relu
/// otherwise. The running statistics are updated as burn does: a
/// momentum-weighted average with the batch's, detached.
///
/// # Shapes
/// - x: `[batch, channels, ...]`
/// - output: as x
pub fn batch_norm_relu<const D: usize>(norm: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    let trains = device.is_autodiff() && norm.training.is_enabled();
    if !trains || !super::is_flex(&device) {
        return relu(norm.forward(x));
    }
    let BatchNormTrained {
        output,
        mean,
        variance,
    } = Dispatch::cpu_batch_norm_relu_train(
        x.into_dispatch(),
        norm.gamma.val().into_dispatch(),
        norm.beta.val().into_dispatch(),
        norm.epsilon,
    );
    let (mean, variance) = (
        Tensor::<1>::from_dispatch(mean),
        Tensor::<1>::from_dispatch(variance),
    );
    let momentum = norm.momentum;
    let running_mean = norm.running_mean.value_sync().to_device(&device);
    let running_var = norm.running_var.value_sync().to_device(&device);
    norm.running_mean
        .update((running_mean.mul_scalar(1.0 - momentum) + mean.mul_scalar(momentum)).detach());
    norm.running_var
        .update((running_var.mul_scalar(1.0 - momentum) + variance.mul_scalar(momentum)).detach());
    Tensor::from_dispatch(output)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flex_kernels::tests::{assert_close, assert_gradient_close, uniform, values};
    use burn::module::Param;
    use burn::nn::BatchNormConfig;
    use burn::tensor::Device;

    fn check<const D: usize>(shape: [usize; D], device: &Device) {
        let channels = shape[1];
        let gamma = uniform([channels], (0.5, 1.5), 1, device);
        let beta = uniform([channels], (0.0, 1.0), 2, device);
        let norm = || {
            let mut norm = BatchNormConfig::new(channels)
                .with_momentum(0.1)
                .with_epsilon(1e-3)
                .init(device);
            norm.gamma = Param::from_tensor(gamma.clone());
            norm.beta = Param::from_tensor(beta.clone());
            norm
        };
        let (ours, theirs) = (norm(), norm());
        // An offset mean, so that centring matters.
        let x = (uniform(shape, (0.0, 1.0), 3, device) * 3.0 + 2.0).require_grad();
        let (y_ours, y_theirs) = (
            batch_norm_relu(&ours, x.clone()),
            relu(theirs.forward(x.clone())),
        );
        let case = format!("{shape:?}");
        assert_close(&case, "output", y_ours.clone(), y_theirs.clone(), 1e-5);
        // The kernel called directly gives the routed output bit for bit: the routing reached
        // it (a routing that fell back to burn would compare burn with burn above).
        let direct = Flex::cpu_batch_norm_relu_train(
            flex_tensor(values(x.clone().detach()), Shape::from(shape)),
            flex_tensor(values(gamma.clone()), Shape::from([channels])),
            flex_tensor(values(beta.clone()), Shape::from([channels])),
            1e-3,
        );
        assert_eq!(
            f32_values(&direct.output).as_ref(),
            values(y_ours.clone()).as_slice(),
            "{case}: the routed batch norm is not the kernel's"
        );
        for (name, a, b) in [
            ("running mean", &ours.running_mean, &theirs.running_mean),
            ("running variance", &ours.running_var, &theirs.running_var),
        ] {
            assert_close(&case, name, a.value_sync(), b.value_sync(), 1e-5);
        }
        let weights = uniform(shape, (0.0, 1.0), 4, device);
        let g_ours = (y_ours * weights.clone()).sum().backward();
        let g_theirs = (y_theirs * weights).sum().backward();
        let (ours_dx, theirs_dx) = (x.grad(&g_ours), x.grad(&g_theirs));
        assert_gradient_close(&case, "input", ours_dx, theirs_dx, 1e-4);
        for (name, a, b) in [
            ("gamma", &ours.gamma, &theirs.gamma),
            ("beta", &ours.beta, &theirs.beta),
        ] {
            // Sums over a whole channel (50,176 values in the largest case), which burn adds
            // up in f32: its own rounding is of this order.
            assert_gradient_close(&case, name, a.grad(&g_ours), b.grad(&g_theirs), 1e-3);
        }
    }

    #[test]
    fn matches_burns_batch_norm_and_relu_in_training() {
        let device = Device::flex().autodiff();
        check([6, 5, 7, 3], &device);
        check([64, 12, 28, 28], &device);
        check([9, 4], &device);
    }
}
