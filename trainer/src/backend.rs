//! Choosing the burn device: the `flex` CPU backend always, GPUs when built with their feature.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

/// A burn backend the trainer can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (SIMD, threads): the default.
    Flex,
    /// wgpu on Vulkan (`--features vulkan`).
    Vulkan,
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
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0)),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "backend `{other}` is not compiled in; rebuild with `cargo run -p trainer --release --features {other} -- --backend {other}`"
            )),
        }
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
        }
    }
}

#[cfg(any(feature = "vulkan", feature = "cuda"))]
fn gpu_name(device: &Device) -> String {
    device
        .as_dispatch()
        .identity()
        .map_or_else(|| format!("{device:?}"), |identity| identity.name)
}

#[cfg(not(any(feature = "vulkan", feature = "cuda")))]
fn gpu_name(device: &Device) -> String {
    format!("{device:?}")
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Vulkan => "vulkan",
            Backend::Cuda => "cuda",
        })
    }
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "flex" | "cpu" => Ok(Backend::Flex),
            "vulkan" | "wgpu" => Ok(Backend::Vulkan),
            "cuda" => Ok(Backend::Cuda),
            _ => Err(format!(
                "unknown backend `{s}`; choose flex (CPU), vulkan or cuda"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncompiled_backends_say_how_to_enable_them() {
        assert!(Backend::Flex.device().is_ok());
        if !cfg!(feature = "vulkan") {
            let err = Backend::Vulkan.device().unwrap_err();
            assert!(err.contains("--features vulkan"), "{err}");
        }
        assert!("tpu".parse::<Backend>().is_err());
        assert!(
            Backend::Flex
                .device_name(&Device::flex())
                .contains("threads")
        );
    }
}
