//! Choosing the burn device: the `flex` CPU backend always, GPUs when built with their feature.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::train::Evaluation;

/// A burn backend the trainer can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (SIMD, threads): the default.
    Flex,
    /// burn's wgpu backend pinned to the Vulkan API, kernels compiled to SPIR-V
    /// (`--features vulkan`).
    Vulkan,
    /// burn's wgpu backend on whichever graphics API wgpu finds (Metal, DirectX 12, Vulkan, GL;
    /// [`WGPU_API_VAR`] pins one), kernels written in WGSL for wgpu to translate, except on
    /// Vulkan in a build with the `vulkan` feature, where SPIR-V is used
    /// (`--features wgpu`, which `vulkan` includes).
    Wgpu,
    /// CUDA (`--features cuda`; needs internet at build time).
    Cuda,
}

impl Backend {
    /// The device to train on, or an error saying how to enable the backend.
    pub fn device(self) -> Result<Device, String> {
        match self {
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "vulkan")]
            Backend::Vulkan => Ok(Device::vulkan(Default::default())),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => {
                let api = wgpu_api(std::env::var(WGPU_API_VAR).ok().as_deref())?;
                Ok(Device::new(burn::backend::WgpuDevice::default().on(api)))
            }
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "backend `{other}` is not compiled in; rebuild with `cargo run -p trainer --release --features {other} -- --backend {other}`"
            )),
        }
    }
}

/// The environment variable that pins the graphics API of the `wgpu` backend: `vulkan`, `metal`,
/// `dx12` or `gl` (wgpu's own name for it); unset, wgpu picks the first API the machine has.
pub const WGPU_API_VAR: &str = "WGPU_BACKEND";

/// The graphics API [`WGPU_API_VAR`]'s value names, or wgpu's choice when it is unset.
#[cfg(feature = "wgpu")]
fn wgpu_api(value: Option<&str>) -> Result<burn::backend::WgpuBackend, String> {
    use burn::backend::WgpuBackend;
    match value {
        None | Some("") => Ok(WgpuBackend::Auto),
        Some("vulkan") => Ok(WgpuBackend::Vulkan),
        Some("metal") => Ok(WgpuBackend::Metal),
        Some("dx12") => Ok(WgpuBackend::Dx12),
        Some("gl") => Ok(WgpuBackend::Gl),
        Some(other) => Err(format!(
            "{WGPU_API_VAR}={other}: choose vulkan, metal, dx12 or gl, or unset it to let wgpu choose"
        )),
    }
}

/// The CPU's model name from `/proc/cpuinfo` (Linux), if there is one.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map(|(_, name)| name.trim().to_string())
}

impl Backend {
    /// The hardware behind `device` (made by [`Backend::device`]), in words: the GPU adapter's
    /// name as the driver reports it, or the CPU model and thread count for `flex`.
    pub fn device_name(self, device: &Device) -> String {
        match self {
            Backend::Flex => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let model = cpu_model().unwrap_or_else(|| "CPU".into());
                format!("{model}, {threads} threads")
            }
            Backend::Vulkan | Backend::Cuda => gpu_name(device),
            Backend::Wgpu => match std::env::var(WGPU_API_VAR) {
                Ok(api) if !api.is_empty() => format!("{} on {api}", gpu_name(device)),
                _ => gpu_name(device),
            },
        }
    }
}

#[cfg(any(feature = "wgpu", feature = "cuda"))]
fn gpu_name(device: &Device) -> String {
    device
        .as_dispatch()
        .identity()
        .map_or_else(|| format!("{device:?}"), |identity| identity.name)
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn gpu_name(device: &Device) -> String {
    format!("{device:?}")
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Vulkan => "vulkan",
            Backend::Wgpu => "wgpu",
            Backend::Cuda => "cuda",
        })
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flex" | "cpu" => Ok(Backend::Flex),
            "vulkan" => Ok(Backend::Vulkan),
            "wgpu" => Ok(Backend::Wgpu),
            "cuda" => Ok(Backend::Cuda),
            _ => Err(format!(
                "unknown backend `{s}`; choose flex (CPU), vulkan, wgpu or cuda"
            )),
        }
    }
}

/// How a stage's forward pass on one backend compares with another's on the same digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardComparison {
    /// Digits compared.
    pub digits: usize,
    /// Largest |difference| of a softmax probability; infinite where either side is not finite.
    pub max_abs_diff: f32,
    /// Digits whose answer (the most probable class) differs.
    pub answers_differ: usize,
}

impl ForwardComparison {
    /// Compares `other`'s probabilities and answers with `reference`'s (the same digits, in the
    /// same order, `classes` probabilities per digit).
    pub fn of(reference: &Evaluation, other: &Evaluation) -> Self {
        let max_abs_diff = if reference.probabilities.len() == other.probabilities.len() {
            reference
                .probabilities
                .iter()
                .zip(&other.probabilities)
                .map(|(a, b)| {
                    let diff = (a - b).abs();
                    if diff.is_finite() {
                        diff
                    } else {
                        f32::INFINITY
                    }
                })
                .fold(0.0, f32::max)
        } else {
            f32::INFINITY
        };
        let answers_differ = reference
            .predictions
            .iter()
            .zip(&other.predictions)
            .filter(|(a, b)| a != b)
            .count()
            + reference
                .predictions
                .len()
                .abs_diff(other.predictions.len());
        ForwardComparison {
            digits: reference.predictions.len(),
            max_abs_diff,
            answers_differ,
        }
    }

    /// Whether every probability is within `tolerance` and every answer is the same.
    pub fn agrees(&self, tolerance: f32) -> bool {
        self.max_abs_diff <= tolerance && self.answers_differ == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncompiled_backends_say_how_to_enable_them() {
        assert!(Backend::Flex.device().is_ok());
        for (backend, compiled) in [
            (Backend::Vulkan, cfg!(feature = "vulkan")),
            (Backend::Wgpu, cfg!(feature = "wgpu")),
            (Backend::Cuda, cfg!(feature = "cuda")),
        ] {
            if !compiled {
                let err = backend.device().unwrap_err();
                assert!(err.contains(&format!("--features {backend}")), "{err}");
            }
        }
        assert!("tpu".parse::<Backend>().is_err());
        assert!(
            Backend::Flex
                .device_name(&Device::flex())
                .contains("threads")
        );
    }

    #[cfg(feature = "wgpu")]
    #[test]
    fn the_wgpu_api_is_read_from_wgpus_own_variable() {
        use burn::backend::WgpuBackend;
        assert_eq!(wgpu_api(None), Ok(WgpuBackend::Auto));
        assert_eq!(wgpu_api(Some("gl")), Ok(WgpuBackend::Gl));
        assert_eq!(wgpu_api(Some("dx12")), Ok(WgpuBackend::Dx12));
        let err = wgpu_api(Some("opengl")).unwrap_err();
        assert!(
            err.contains("WGPU_BACKEND=opengl") && err.contains("gl"),
            "{err}"
        );
    }

    fn evaluation(probabilities: &[f32]) -> Evaluation {
        Evaluation {
            loss: 0.0,
            accuracy: 0.0,
            predictions: probabilities.chunks(2).map(crate::train::argmax).collect(),
            probabilities: probabilities.to_vec(),
        }
    }

    #[test]
    fn comparisons_find_the_largest_difference_and_changed_answers() {
        let flex = evaluation(&[0.9, 0.1, 0.4, 0.6]);
        let same = ForwardComparison::of(&flex, &flex);
        assert_eq!(same.max_abs_diff, 0.0);
        assert!(same.agrees(0.0));

        let close = ForwardComparison::of(&flex, &evaluation(&[0.89995, 0.10005, 0.4, 0.6]));
        assert!(close.max_abs_diff > 4e-5 && close.max_abs_diff < 6e-5);
        assert!(close.agrees(1e-4) && !close.agrees(1e-5));

        let flipped = ForwardComparison::of(&flex, &evaluation(&[0.9, 0.1, 0.6, 0.4]));
        assert_eq!(flipped.answers_differ, 1);
        assert!(!flipped.agrees(1.0));

        let nan = ForwardComparison::of(&flex, &evaluation(&[0.9, 0.1, f32::NAN, 0.6]));
        assert_eq!(nan.max_abs_diff, f32::INFINITY);
        assert!(!nan.agrees(1.0));

        let short = ForwardComparison::of(&flex, &evaluation(&[0.9, 0.1]));
        assert!(!short.agrees(1.0));
    }
}
