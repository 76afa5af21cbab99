//! Chooses the int8 kernels' arch form once, as the cfg `arch_kernels`, so that the modules and
//! the dispatch in `src/kernels/mod.rs` name it instead of repeating the rule: `"arm_dsp"` with
//! the feature `arm-dsp` on an Arm target, else `"arm_v6m"` with the feature `arm-v6m` on an
//! Arm target; unset (the portable kernels) elsewhere, whatever the features say.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(arch_kernels, values(\"arm_dsp\", \"arm_v6m\"))");
    println!("cargo::rerun-if-changed=build.rs");
    let arm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "arm");
    let feature = |name: &str| std::env::var_os(format!("CARGO_FEATURE_{name}")).is_some();
    let form = if !arm {
        None
    } else if feature("ARM_DSP") {
        Some("arm_dsp")
    } else if feature("ARM_V6M") {
        Some("arm_v6m")
    } else {
        None
    };
    if let Some(form) = form {
        println!("cargo::rustc-cfg=arch_kernels=\"{form}\"");
    }
}
