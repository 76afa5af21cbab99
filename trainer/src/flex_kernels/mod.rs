//! Training kernels for the `flex` CPU backend where burn's generic ones leave the cores idle
//! or copy too much: the convolution ([`conv`], its matmuls through [`matmul`]), batch norm with
//! the relu after it ([`batch_norm`]), each a burn backend extension with its own backward pass,
//! and Adam's update ([`adam`]); each computes the same function as burn's layer or optimizer
//! with the same parameters (checked against burn in their tests).
//!
//! The network calls [`conv::conv2d_layer`] and [`batch_norm::batch_norm_relu`] and the trainer
//! [`adam::FusedAdam`] and [`set_up_training`], which use these when tensors are on `flex`
//! ([`is_flex`]); on a GPU they keep burn's layers and optimizer. The model code does not know
//! which backend it runs on.

use std::borrow::Cow;

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Device, Shape, TensorData};

pub mod adam;
pub mod batch_norm;
pub mod conv;
mod matmul;

/// Whether tensors on `device` compute on the `flex` CPU backend (with or without autodiff):
/// where the kernels of this module run.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

fn flex_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A tensor's values in row-major order, borrowed when it is already laid out so.
fn f32_values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(tensor.to_contiguous().storage::<f32>().to_vec()),
    }
}

/// What training on `device` needs of the CPU: on `flex`, subnormals flushed on the training
/// threads ([`flush_denormals_on_training_threads`]) and freed memory kept for the next step
/// ([`keep_freed_memory`]); nothing on a GPU.
pub fn set_up_training(device: &Device) {
    if is_flex(device) {
        flush_denormals_on_training_threads();
        keep_freed_memory();
    }
}

/// Makes the CPU threads that train (the calling one and rayon's pool, which `flex` and the
/// kernels here run on) flush subnormal floats to zero, from now on.
///
/// Why: late in training some gradients and Adam moments become subnormal (below 1.2e-38), and
/// x86 cores take a slow microcode path for every operation that meets one: dense-deep's third
/// epoch took 3x its first. TensorFlow trains with the same two flags set for the same reason.
/// The values lost are far below any precision the result depends on; inference does not meet
/// subnormals (activations and weights are far larger), so evaluation gives the same answers
/// with or without. One-way on purpose: trainings running side by side (tests) cannot turn it
/// off under each other. A no-op except on x86-64.
pub fn flush_denormals_on_training_threads() {
    denormals::flush();
    rayon::broadcast(|_| denormals::flush());
}

/// Makes the allocator keep the memory a training step frees, for the next step to reuse.
///
/// Why: a step allocates and frees the same few-megabyte buffers (activations, column
/// matrices, gradients) every time. By default glibc serves blocks over 128 KB with fresh
/// `mmap`s (a threshold it raises only as it sees them freed) and returns a freed heap top over
/// 128 KB to the kernel, so the next step takes page faults to touch the same memory again:
/// `layer_times` ran the same step 20-25% faster with these thresholds raised. They are
/// glibc's own knobs for this (`mallopt`): blocks up to 32 MB (its ceiling) come from the heap,
/// and up to 1 GB of freed memory stays mapped. The cost is a process that keeps its peak heap
/// until it exits. A no-op off glibc.
pub fn keep_freed_memory() {
    allocator::keep_freed_memory();
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator {
    pub fn keep_freed_memory() {
        const MMAP_THRESHOLD: libc::c_int = 32 << 20;
        const TRIM_THRESHOLD: libc::c_int = 1 << 30;
        for (param, value) in [
            (libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD),
            (libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        ] {
            // SAFETY: mallopt only sets a tuning parameter of glibc's allocator (it takes the
            // allocator's lock itself); both values are within the documented ranges, and a
            // refused value (return 0) leaves the default in place, which is only slower.
            unsafe {
                libc::mallopt(param, value);
            }
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod allocator {
    pub fn keep_freed_memory() {}
}

#[cfg(test)]
pub(crate) mod tests {
    use burn::tensor::{Device, Tensor, TensorData};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Row-major values of a tensor.
    pub(crate) fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().expect("f32 values")
    }

    /// A tensor of values uniform in `[low, high)` drawn from its own generator: burn's is
    /// process-global, so a test that seeded it draws other values whenever a test running
    /// beside it draws too. A check near a discontinuity (relu's kink) must see the same values
    /// on every run.
    pub(crate) fn uniform<const D: usize>(
        shape: [usize; D],
        (low, high): (f32, f32),
        seed: u64,
        device: &Device,
    ) -> Tensor<D> {
        let mut rng = StdRng::seed_from_u64(seed);
        let values: Vec<f32> = (0..shape.iter().product())
            .map(|_| rng.random_range(low..high))
            .collect();
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    /// Panics unless the largest difference between `ours` and `reference`, relative to the
    /// largest value of `reference`, is below `tolerance`.
    pub(crate) fn assert_close<const D: usize>(
        case: &str,
        what: &str,
        ours: Tensor<D>,
        reference: Tensor<D>,
        tolerance: f32,
    ) {
        let scale = reference.clone().abs().max().into_scalar::<f32>().max(1e-6);
        let difference = (ours - reference).abs().max().into_scalar::<f32>() / scale;
        assert!(
            difference < tolerance,
            "{case}: {what} differs by {difference}"
        );
    }

    /// [`assert_close`] on the gradients of one parameter, ours and burn's (both present).
    pub(crate) fn assert_gradient_close<const D: usize>(
        case: &str,
        parameter: &str,
        ours: Option<Tensor<D>>,
        reference: Option<Tensor<D>>,
        tolerance: f32,
    ) {
        let what = format!("{parameter} gradient");
        let ours = ours.unwrap_or_else(|| panic!("{case}: no {what} of ours"));
        let reference = reference.unwrap_or_else(|| panic!("{case}: no {what} of burn's"));
        assert_close(case, &what, ours, reference, tolerance);
    }
}

#[cfg(target_arch = "x86_64")]
mod denormals {
    /// MXCSR bits: flush-to-zero (results) and denormals-are-zero (inputs).
    const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

    /// Sets both flags in this thread's SSE control register.
    pub fn flush() {
        let mut csr: u32 = 0;
        // SAFETY: `stmxcsr` stores this thread's SSE control/status register into `csr`, a
        // live, aligned u32 that the asm writes only through the pointer given.
        unsafe {
            std::arch::asm!("stmxcsr [{0}]", in(reg) &mut csr, options(nostack, preserves_flags));
        }
        let flushing = csr | FTZ_DAZ;
        // SAFETY: `ldmxcsr` loads the register from `flushing`, the value just read with only FTZ
        // and DAZ set, bits every x86-64 CPU implements: rounding mode and exception masks stay
        // as they were, so no float operation can start trapping.
        unsafe {
            std::arch::asm!("ldmxcsr [{0}]", in(reg) &flushing, options(nostack, preserves_flags, readonly));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod denormals {
    pub fn flush() {}
}
