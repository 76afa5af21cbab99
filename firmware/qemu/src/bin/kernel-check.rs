//! The int8 kernels' arch forms against the portable reference kernels, bit for bit, on random
//! shapes, strides, paddings, zero points, requantisation parameters and values, on the
//! Cortex-M33 (QEMU mps2-an505): built for the M33 with runtime-nostd's `arm-dsp` (SMLAD,
//! SXTB16 in inline assembly), and for thumbv6m with its `arm-v6m` (the Cortex-M0+'s Thumb
//! instructions, which the M33 runs as they are). `firmware/run-qemu.sh` runs both; the exit
//! status is 0 only if every output of every case matches.
//!
//! The cases come from the kernels' one case generator (`runtime_nostd::kernels::cases`, which
//! the host's proptests draw from too), from a seed that changes with every run (the host's
//! clock, through semihosting) and is printed first; building with `KERNEL_CHECK_SEED=<seed>`
//! repeats a run.
//! The arch kernels run in two parts, a convolution split at a random pixel and a dense layer at
//! a random neuron, as two cores run a layer (`Model::infer_parallel`). Both output buffers are filled with different codes before each
//! case, so an output that a kernel leaves unwritten differs instead of keeping the last case's
//! value.
#![no_std]
#![no_main]

use cortex_m as _; // its critical-section implementation
use cortex_m_rt::entry;
use defmt_semihosting as _;
use runtime_nostd::kernels::cases::{CaseData, ConvCase, DenseCase, Limits, Random};
use runtime_nostd::kernels::{
    conv2d_i8_part, conv2d_i8_portable, dense_i8_part, dense_i8_portable,
};

/// Random cases of each kind.
const CASES: usize = 400;
/// The buffers the cases stay within.
const LIMITS: Limits = Limits {
    values: 8192,
    weights: 16384,
    channels: 160,
    lanes: 4096,
};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    defmt::error!("panic");
    semihosting::process::exit(101)
}

/// A fault (an arch kernel's load or store out of bounds, say) ends the run as a failure, with
/// where it happened, instead of the default handler's endless loop, which run-qemu.sh would
/// only end at its timeout.
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    defmt::error!(
        "HardFault at pc {=u32:#x} (lr {=u32:#x})",
        frame.pc(),
        frame.lr()
    );
    semihosting::process::exit(102)
}

/// The seed: `KERNEL_CHECK_SEED` at build time, else the host's clock in seconds.
fn seed() -> u32 {
    option_env!("KERNEL_CHECK_SEED")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or_else(|| {
            semihosting::sys::arm_compat::sys_time().map_or(0x1234_5678, |t| t as u32)
        })
}

/// A case's values, static so that nothing large sits on the stack.
struct CaseStore {
    input: [i8; LIMITS.values],
    weights: [u8; LIMITS.weights],
    bias: [u8; 4 * LIMITS.channels],
    table: [u8; 8 * LIMITS.channels],
    lut: [u8; 256],
}

impl CaseStore {
    fn buffers(&mut self) -> CaseData<'_> {
        CaseData {
            input: &mut self.input,
            weights: &mut self.weights,
            bias: &mut self.bias,
            table: &mut self.table,
            lut: &mut self.lut,
        }
    }
}

#[cfg(not(any(feature = "arm-dsp", feature = "arm-v6m")))]
compile_error!(
    "kernel-check holds an arch form to the portable kernels: build it with the feature arm-dsp (M33) or arm-v6m (thumbv6m)"
);

/// What this build checks against the portable kernels.
const FORMS: &str = if cfg!(feature = "arm-dsp") {
    "DSP forms (arm-dsp)"
} else {
    "Armv6-M forms (arm-v6m)"
};

/// The kernels' scratch and both forms' outputs.
struct Outputs {
    patch: [i8; LIMITS.values],
    lanes: [u32; LIMITS.lanes],
    reference: [i8; LIMITS.values],
    arch: [i8; LIMITS.values],
}

/// One random convolution through both forms; returns the number of outputs compared, or the
/// first that differs.
fn conv_case(
    random: &mut Random,
    store: &mut CaseStore,
    out: &mut Outputs,
) -> Result<usize, usize> {
    let case = ConvCase::draw(random, &LIMITS);
    let mut buffers = store.buffers();
    let data = case.data(random, &mut buffers);
    let conv = case.conv(data.weights, data.bias);
    let requant = case.requant.requant(&data);
    conv2d_i8_portable(
        &conv,
        &requant,
        data.input,
        &mut out.patch,
        &mut out.reference,
    );
    // The arch form in two parts split at a random pixel (none, all, or anywhere between), as
    // two cores run a layer: together they must give the whole layer's codes.
    let pixels = conv.pixels();
    let split = random.range(0, pixels.end);
    let at = (split * case.output.channels).min(out.arch.len());
    let (first, second) = out.arch.split_at_mut(at);
    let parts = [(first, 0..split), (second, split..pixels.end)];
    for (codes, part) in parts {
        conv2d_i8_part(
            &conv,
            &requant,
            data.input,
            &mut out.patch,
            &mut out.lanes,
            codes,
            part,
        );
    }
    let n = case.output.len();
    match (0..n).find(|&i| out.reference[i] != out.arch[i]) {
        None => Ok(n),
        Some(i) => {
            let (input, g) = (case.input, case.geometry);
            defmt::error!(
                "conv {=usize}x{=usize}x{=usize} -> {=usize} channels, kernel {=usize}, stride {=usize}, pad {=usize}, split at pixel {=usize}: output {=usize} is {=i8}, the reference {=i8}",
                input.height,
                input.width,
                input.channels,
                case.output.channels,
                g.kernel,
                g.stride,
                g.pad,
                split,
                i,
                out.arch[i],
                out.reference[i]
            );
            Err(i)
        }
    }
}

/// One random dense layer through both forms, with a sigmoid table half the time; returns the
/// number of outputs compared, or the first that differs.
fn dense_case(
    random: &mut Random,
    store: &mut CaseStore,
    out: &mut Outputs,
) -> Result<usize, usize> {
    let case = DenseCase::draw(random, &LIMITS);
    let mut buffers = store.buffers();
    let data = case.data(random, &mut buffers);
    let requant = case.requant.requant(&data);
    let o = case.outputs;
    let (input, weights, bias) = (&*data.input, &*data.weights, &*data.bias);
    dense_i8_portable(input, weights, bias, &requant, &mut out.reference[..o]);
    // In two parts split at a random neuron, as two cores run a layer.
    let split = random.range(0, o);
    let (first, second) = out.arch[..o].split_at_mut(split);
    for (codes, part) in [(first, 0..split), (second, split..o)] {
        dense_i8_part(input, weights, bias, &requant, &mut out.lanes, codes, part);
    }
    match (0..o).find(|&i| out.reference[i] != out.arch[i]) {
        None => Ok(o),
        Some(i) => {
            defmt::error!(
                "dense {=usize} -> {=usize}, split at neuron {=usize}: output {=usize} is {=i8}, the reference {=i8}",
                case.inputs,
                o,
                split,
                i,
                out.arch[i],
                out.reference[i]
            );
            Err(i)
        }
    }
}

#[entry]
fn main() -> ! {
    let store = cortex_m::singleton!(: CaseStore = CaseStore {
        input: [0; LIMITS.values],
        weights: [0; LIMITS.weights],
        bias: [0; 4 * LIMITS.channels],
        table: [0; 8 * LIMITS.channels],
        lut: [0; 256],
    });
    let outputs = cortex_m::singleton!(: Outputs = Outputs {
        patch: [0; LIMITS.values],
        lanes: [0; LIMITS.lanes],
        reference: [0; LIMITS.values],
        arch: [0; LIMITS.values],
    });
    let (Some(store), Some(out)) = (store, outputs) else {
        semihosting::process::exit(2)
    };
    let seed = seed();
    let mut random = Random::new(seed);
    defmt::info!(
        "kernel-check: seed {=u32} (KERNEL_CHECK_SEED={=u32} ./run-qemu.sh repeats this run)",
        seed,
        seed
    );
    let (mut conv_outputs, mut dense_outputs) = (0, 0);
    for case in 0..CASES {
        // Unwritten outputs must differ between the two forms, and from the last case.
        out.reference.fill(0x55);
        out.arch.fill(-0x56);
        match conv_case(&mut random, store, out) {
            Ok(n) => conv_outputs += n,
            Err(at) => {
                defmt::error!(
                    "conv case {=usize} (seed {=u32}): output {=usize} differs",
                    case,
                    seed,
                    at
                );
                semihosting::process::exit(1)
            }
        }
        match dense_case(&mut random, store, out) {
            Ok(n) => dense_outputs += n,
            Err(at) => {
                defmt::error!(
                    "dense case {=usize} (seed {=u32}): output {=usize} differs",
                    case,
                    seed,
                    at
                );
                semihosting::process::exit(1)
            }
        }
    }
    defmt::info!(
        "kernel-check: {=usize} conv and {=usize} dense cases, {=usize} + {=usize} outputs, {=str} equal to the portable ones bit for bit",
        CASES,
        CASES,
        conv_outputs,
        dense_outputs,
        FORMS
    );
    semihosting::process::exit(0)
}
