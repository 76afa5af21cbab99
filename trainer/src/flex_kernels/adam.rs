//! Adam's update for the `flex` CPU backend as one pass per parameter tensor, on all cores.
//!
//! Why: burn's `Adam` computes the update as a chain of about ten element-wise tensor
//! operations, each a pass over the parameter (and a new tensor) on one core; for the codelab's
//! CNN that was ~2 ms of a ~30 ms step. Here each element's new moments and value come out of one
//! read of the value, gradient and moments, with burn's formula and rounding order, and the
//! same state type, so [`FusedAdam`] is a drop-in for burn's optimizer (which it falls back to
//! off `flex`).

use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Dispatch, ExtensionType, Flex, backend_extension};
use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

use super::{f32_values, flex_tensor};

/// Adam's hyper-parameters and one step's bias corrections.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    lr: f32,
    beta_1: f32,
    beta_2: f32,
    /// `sqrt(1 - beta_2^t) / (1 - beta_1^t)`
    combined_factor: f32,
    /// `epsilon * sqrt(1 - beta_2^t)`
    epsilon: f32,
}

impl Step {
    /// As burn's `AdaptiveMomentum::transform` computes them for step `time` (from 1).
    pub fn new(lr: LearningRate, beta_1: f32, beta_2: f32, epsilon: f32, time: usize) -> Self {
        let time = time as i32;
        let bias_correction2_sqrt = (1.0 - beta_2.powi(time)).sqrt();
        Step {
            lr: lr as f32,
            beta_1,
            beta_2,
            combined_factor: bias_correction2_sqrt / (1.0 - beta_1.powi(time)),
            epsilon: epsilon * bias_correction2_sqrt,
        }
    }

    /// One element: `(value, moment_1, moment_2)` after the step, in burn's operation order.
    fn element(&self, value: f32, grad: f32, moment_1: f32, moment_2: f32) -> (f32, f32, f32) {
        let moment_1 = moment_1 * self.beta_1 + grad * (1.0 - self.beta_1);
        let moment_2 = moment_2 * self.beta_2 + grad * grad * (1.0 - self.beta_2);
        let update = moment_1 * self.combined_factor / (moment_2.sqrt() + self.epsilon);
        (value - update * self.lr, moment_1, moment_2)
    }
}

/// A parameter and its moments after one step.
#[derive(ExtensionType)]
pub struct AdamUpdated<B: burn::backend::Backend> {
    /// The parameter's new value.
    pub value: FloatTensor<B>,
    /// The new first moment (the gradient's running mean).
    pub moment_1: FloatTensor<B>,
    /// The new second moment (the squared gradient's running mean).
    pub moment_2: FloatTensor<B>,
}

/// The operation burn's dispatch routes to [`Flex`] (the optimizer sees parameters without
/// autodiff).
#[backend_extension(Flex)]
pub trait CpuAdam: burn::backend::Backend {
    /// One Adam step of one parameter tensor.
    ///
    /// # Shapes
    /// - value, grad, moment_1, moment_2: one shape, any rank; the outputs have it too
    fn cpu_adam_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        step: Step,
    ) -> AdamUpdated<Self>;
}

/// Elements per task of the update.
const ELEMENTS_PER_TASK: usize = 1 << 14;
/// One task: its index and its share of the new value and moments.
struct Task<'a> {
    index: usize,
    value: &'a mut [f32],
    moment_1: &'a mut [f32],
    moment_2: &'a mut [f32],
}

impl<'a> Task<'a> {
    /// The task of what the three outputs' chunks, zipped and enumerated, yield.
    #[allow(clippy::type_complexity)] // the shape `enumerate` and `zip` give, named once here
    fn of(
        (index, ((value, moment_1), moment_2)): (
            usize,
            ((&'a mut [f32], &'a mut [f32]), &'a mut [f32]),
        ),
    ) -> Task<'a> {
        Task {
            index,
            value,
            moment_1,
            moment_2,
        }
    }
}

/// Tensors from this size are updated on all cores (the dense layers' weights); smaller ones on
/// the calling thread.
const PARALLEL_FROM: usize = 1 << 17;

impl CpuAdam for Flex {
    fn cpu_adam_step(
        value: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        step: Step,
    ) -> AdamUpdated<Self> {
        let shape = value.layout().shape().clone();
        let inputs = [&value, &grad, &moment_1, &moment_2].map(|t: &FlexTensor| f32_values(t));
        let [value, grad, moment_1, moment_2] = &inputs;
        let len = value.len();
        assert!(
            [grad.len(), moment_1.len(), moment_2.len()] == [len; 3],
            "Adam: the gradient and moments have the parameter's shape"
        );
        let mut outputs = [(); 3].map(|_| vec![0.0f32; len]);
        let [new_value, new_moment_1, new_moment_2] = &mut outputs;
        let update = |task: Task<'_>| {
            let Task {
                index,
                value: out_value,
                moment_1: out_moment_1,
                moment_2: out_moment_2,
            } = task;
            let at = index * ELEMENTS_PER_TASK..index * ELEMENTS_PER_TASK + out_value.len();
            let inputs = value[at.clone()]
                .iter()
                .zip(&grad[at.clone()])
                .zip(&moment_1[at.clone()])
                .zip(&moment_2[at]);
            let outputs = out_value
                .iter_mut()
                .zip(out_moment_1.iter_mut())
                .zip(out_moment_2.iter_mut());
            for (((v, m1), m2), (((&value, &grad), &moment_1), &moment_2)) in outputs.zip(inputs) {
                (*v, *m1, *m2) = step.element(value, grad, moment_1, moment_2);
            }
        };
        // Handing work to rayon's threads costs tens of microseconds: worth it for the large
        // weight matrices only. A smaller parameter is one piece that rayon does not split,
        // so it runs on this thread.
        let min_chunks_per_job = if len >= PARALLEL_FROM { 1 } else { usize::MAX };
        new_value
            .par_chunks_mut(ELEMENTS_PER_TASK)
            .zip(new_moment_1.par_chunks_mut(ELEMENTS_PER_TASK))
            .zip(new_moment_2.par_chunks_mut(ELEMENTS_PER_TASK))
            .enumerate()
            .with_min_len(min_chunks_per_job)
            .map(Task::of)
            .for_each(update);
        let [new_value, new_moment_1, new_moment_2] = outputs;
        AdamUpdated {
            value: flex_tensor(new_value, shape.clone()),
            moment_1: flex_tensor(new_moment_1, shape.clone()),
            moment_2: flex_tensor(new_moment_2, shape),
        }
    }
}

/// burn's Adam (no weight decay, no AMSGrad), fused into one pass per tensor on `flex`.
#[derive(Clone)]
pub struct FusedAdam {
    burn: Adam,
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// With these hyper-parameters (burn's `AdamConfig` names).
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        let config = AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon);
        FusedAdam {
            burn: config.build(),
            beta_1,
            beta_2,
            epsilon,
        }
    }

    /// The optimizer for a whole module.
    pub fn init(self) -> ModuleOptimizer {
        ModuleOptimizer::from(self)
    }
}

impl Optimizer for FusedAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if !super::is_flex(&tensor.device()) {
            return self.burn.step(lr, tensor, grad, state);
        }
        // Zero moments before the first step: burn's first-step formula is this one with them.
        let (time, moment_1, moment_2) = match state {
            Some(state) => {
                let momentum = state.momentum;
                (momentum.time + 1, momentum.moment_1, momentum.moment_2)
            }
            None => (1, grad.zeros_like(), grad.zeros_like()),
        };
        let updated = Dispatch::cpu_adam_step(
            tensor.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            Step::new(lr, self.beta_1, self.beta_2, self.epsilon, time),
        );
        let momentum = AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(updated.moment_1),
            Tensor::from_dispatch(updated.moment_2),
        );
        (
            Tensor::from_dispatch(updated.value),
            Some(AdamState::new(momentum)),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flex_kernels::tests::values;
    use burn::tensor::{Distribution, Shape};

    /// Three steps of a `[rows, cols]` parameter: through the optimizer (the routing to the
    /// kernel) and through [`CpuAdam::cpu_adam_step`] called directly (so a routing that lost
    /// the kernel would not compare burn with burn), each bit for bit against burn's Adam.
    fn steps_like_burns_adam(rows: usize, cols: usize) {
        let device = Device::flex();
        device.seed(17);
        let (ours, theirs) = (
            FusedAdam::new(0.9, 0.999, 1e-7),
            FusedAdam::new(0.9, 0.999, 1e-7).burn,
        );
        let start = Tensor::<2>::random([rows, cols], Distribution::Default, &device);
        let (mut a, mut b) = (start.clone(), start);
        let (mut state_a, mut state_b): (Option<AdamState<2>>, Option<AdamState<2>>) = (None, None);
        for step in 1..=3 {
            let grad = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 0.1), &device);
            let zeros = || vec![0.0f32; rows * cols];
            let (moment_1, moment_2) = state_b.clone().map_or_else(
                || (zeros(), zeros()),
                |s| (values(s.momentum.moment_1), values(s.momentum.moment_2)),
            );
            let shape = Shape::from([rows, cols]);
            let direct = Flex::cpu_adam_step(
                flex_tensor(values(b.clone()), shape.clone()),
                flex_tensor(values(grad.clone()), shape.clone()),
                flex_tensor(moment_1, shape.clone()),
                flex_tensor(moment_2, shape),
                Step::new(1e-3, 0.9, 0.999, 1e-7, step),
            );
            (a, state_a) = ours.step(1e-3, a, grad.clone(), state_a);
            (b, state_b) = theirs.step(1e-3, b, grad, state_b);
            let (sa, sb) = (state_a.clone().unwrap(), state_b.clone().unwrap());
            assert_eq!(sa.momentum.time, sb.momentum.time, "step {step}: time");
            for (what, x, y, kernel) in [
                ("value", a.clone(), b.clone(), &direct.value),
                (
                    "first moment",
                    sa.momentum.moment_1,
                    sb.momentum.moment_1.clone(),
                    &direct.moment_1,
                ),
                (
                    "second moment",
                    sa.momentum.moment_2,
                    sb.momentum.moment_2.clone(),
                    &direct.moment_2,
                ),
            ] {
                let expected = values(y);
                assert_eq!(values(x), expected, "{rows}x{cols} step {step}: {what}");
                assert_eq!(
                    f32_values(kernel).as_ref(),
                    expected.as_slice(),
                    "{rows}x{cols} step {step}: {what}, the kernel called directly"
                );
            }
        }
    }

    #[test]
    fn both_paths_step_like_burns_adam() {
        // A tensor updated on the calling thread (over a task's worth of elements, so several
        // tasks run) and one updated on all cores.
        let (serial, parallel) = ((300, 70), (400, 400));
        assert!(serial.0 * serial.1 > ELEMENTS_PER_TASK && serial.0 * serial.1 < PARALLEL_FROM);
        assert!(parallel.0 * parallel.1 >= PARALLEL_FROM);
        steps_like_burns_adam(serial.0, serial.1);
        steps_like_burns_adam(parallel.0, parallel.1);
    }
}
