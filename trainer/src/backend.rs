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
    }
}
