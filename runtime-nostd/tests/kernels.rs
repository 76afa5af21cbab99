//! Every kernel against a naive reference written the obvious way (CHW, OIHW, f64 or exact
//! integer sums), over random shapes, strides, pads and quantisation parameters. The layers
//! come from the kernels' one case generator (`runtime_nostd::kernels::cases`, which the QEMU
//! kernel check draws from too), each from a seed proptest picks. Named cases at the end pin
//! the edge shapes that matter most.

use proptest::prelude::*;
use runtime_nostd::format::{Activation, Shape};
use runtime_nostd::kernels::cases::{CaseData, ConvCase, DenseCase, Limits, Random, RequantCase};
use runtime_nostd::kernels::{
    Conv, ConvGeometry, Requant, conv_lane_words, conv2d_f32, conv2d_i8, conv2d_i8_portable,
    dense_f32, dense_i8, dense_i8_part, dense_i8_portable, dense_lane_words, dot_i8_lanes,
    dot_i8_pair, dot_i8_pair_unrolled, dot_i8_unrolled, mul_high, patch_len, quantize_multiplier,
    requantize, scaled_from_high_word, write_padded,
};

/// The buffers of one case here, as large as the QEMU check's.
const LIMITS: Limits = Limits {
    values: 8192,
    weights: 16384,
    channels: 160,
    lanes: 4096,
};

/// Vectors as large as [`LIMITS`].
struct HostBuffers {
    input: Vec<i8>,
    weights: Vec<u8>,
    bias: Vec<u8>,
    table: Vec<u8>,
    lut: [u8; 256],
}

impl HostBuffers {
    fn new() -> Self {
        HostBuffers {
            input: vec![0; LIMITS.values],
            weights: vec![0; LIMITS.weights],
            bias: vec![0; 4 * LIMITS.channels],
            table: vec![0; 8 * LIMITS.channels],
            lut: [0; 256],
        }
    }

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

/// A convolution's shapes from the shared generator (values come from proptest or the
/// generator, per test).
fn conv_case() -> impl Strategy<Value = ConvCase> {
    any::<u32>().prop_map(|seed| ConvCase::draw(&mut Random::new(seed), &LIMITS))
}

/// Naive convolution on CHW input and OIHW weights; `tap` turns (x, w) into the summand.
fn naive_conv<T: Copy>(
    case: &ConvCase,
    x_chw: &[T],
    w_oihw: &[T],
    mut acc: impl FnMut(usize, usize, usize, T, T),
) {
    let (i, o, g) = (case.input, case.output, case.geometry);
    for oc in 0..o.channels {
        for oy in 0..o.height {
            for ox in 0..o.width {
                for ic in 0..i.channels {
                    for ky in 0..g.kernel {
                        for kx in 0..g.kernel {
                            let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                            let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                            if iy < 0 || ix < 0 || iy >= i.height as isize || ix >= i.width as isize
                            {
                                continue;
                            }
                            let x = x_chw[(ic * i.height + iy as usize) * i.width + ix as usize];
                            let w =
                                w_oihw[((oc * i.channels + ic) * g.kernel + ky) * g.kernel + kx];
                            acc(oc, oy, ox, x, w);
                        }
                    }
                }
            }
        }
    }
}

fn chw_to_hwc<T: Copy>(v: &[T], s: Shape) -> Vec<T> {
    let mut out = v.to_vec();
    for c in 0..s.channels {
        for p in 0..s.height * s.width {
            out[p * s.channels + c] = v[c * s.height * s.width + p];
        }
    }
    out
}

fn hwc_to_chw<T: Copy>(v: &[T], s: Shape) -> Vec<T> {
    let mut out = v.to_vec();
    for c in 0..s.channels {
        for p in 0..s.height * s.width {
            out[c * s.height * s.width + p] = v[p * s.channels + c];
        }
    }
    out
}

fn oihw_to_ohwi<T: Copy>(v: &[T], o: usize, i: usize, k: usize) -> Vec<T> {
    let mut out = v.to_vec();
    for oc in 0..o {
        for ic in 0..i {
            for p in 0..k * k {
                out[(oc * k * k + p) * i + ic] = v[(oc * i + ic) * k * k + p];
            }
        }
    }
    out
}

fn ohwi_to_oihw<T: Copy>(v: &[T], o: usize, i: usize, k: usize) -> Vec<T> {
    let mut out = v.to_vec();
    for oc in 0..o {
        for ic in 0..i {
            for p in 0..k * k {
                out[(oc * i + ic) * k * k + p] = v[(oc * k * k + p) * i + ic];
            }
        }
    }
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn check_conv_f32(case: &ConvCase, x: &[f32], w: &[f32], bias: &[f32], activation: Activation) {
    let out_shape = case.output;
    let mut expected = vec![0.0f64; out_shape.len()];
    naive_conv(case, x, w, |oc, oy, ox, xv, wv| {
        expected[(oc * out_shape.height + oy) * out_shape.width + ox] +=
            f64::from(xv) * f64::from(wv);
    });
    for (i, e) in expected.iter_mut().enumerate() {
        *e += f64::from(bias[i / (out_shape.height * out_shape.width)]);
        if activation == Activation::Relu {
            *e = e.max(0.0);
        }
    }
    let weights = f32_bytes(&oihw_to_ohwi(
        w,
        case.output.channels,
        case.input.channels,
        case.geometry.kernel,
    ));
    let bias_bytes = f32_bytes(bias);
    let conv = Conv {
        input: case.input,
        output: out_shape,
        geometry: case.geometry,
        weights: &weights,
        bias: &bias_bytes,
    };
    let mut patch = vec![0.0; patch_len(&conv)];
    let mut out = vec![f32::NAN; out_shape.len()];
    conv2d_f32(
        &conv,
        activation,
        &chw_to_hwc(x, case.input),
        &mut patch,
        &mut out,
    );
    let expected_hwc = chw_to_hwc(&expected, out_shape);
    for (got, want) in out.iter().zip(&expected_hwc) {
        assert!(
            (f64::from(*got) - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{case:?}: got {got}, want {want}"
        );
    }
}

fn i32_at(bytes: &[u8], i: usize) -> i32 {
    i32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap())
}

/// The int8 reference for one output: the exact sum plus the bias, the rounding rule, the zero
/// point, the relu floor, the sigmoid table.
fn expected_code(acc: i64, channel: usize, data: &CaseData<'_>, q: &RequantCase) -> i8 {
    let acc = (acc + i64::from(i32_at(data.bias, channel))) as i32;
    let (m, s) = (
        i32_at(data.table, 2 * channel),
        i32_at(data.table, 2 * channel + 1),
    );
    let floor = if q.relu {
        i32::from(q.output_zero)
    } else {
        -128
    };
    let code = requantize(acc, m, s)
        .saturating_add(i32::from(q.output_zero))
        .clamp(floor, 127) as i8;
    if q.sigmoid {
        data.lut[usize::from(code as u8 ^ 0x80)] as i8
    } else {
        code
    }
}

/// An int8 convolution against the reference: true zero padding and `(x - z_in) * w` on CHW and
/// OIHW, with the file's bias, which folds in `-z_in * sum(w)` (FORMAT.md), unfolded.
fn check_conv_i8(case: &ConvCase, data: &CaseData<'_>) {
    let (i, o, k) = (case.input, case.output, case.geometry.kernel);
    let z_in = i64::from(case.requant.input_zero);
    let x = hwc_to_chw(data.input, i);
    let w: Vec<i8> = ohwi_to_oihw(data.weights, o.channels, i.channels, k)
        .iter()
        .map(|&b| b as i8)
        .collect();
    let per_filter = case.weights_len() / o.channels;
    let mut acc: Vec<i64> = (0..o.len())
        .map(|index| {
            let filter = &w[index / (o.height * o.width) * per_filter..][..per_filter];
            z_in * filter.iter().map(|&v| i64::from(v)).sum::<i64>()
        })
        .collect();
    naive_conv(case, &x, &w, |oc, oy, ox, xv, wv| {
        acc[(oc * o.height + oy) * o.width + ox] += (i64::from(xv) - z_in) * i64::from(wv);
    });
    let plane = o.height * o.width;
    let expected: Vec<i8> = acc
        .iter()
        .enumerate()
        .map(|(index, &a)| expected_code(a, index / plane, data, &case.requant))
        .collect();
    let conv = case.conv(data.weights, data.bias);
    let requant = case.requant.requant(data);
    let mut patch = vec![0i8; patch_len(&conv)];
    let mut lanes = vec![0u32; conv_lane_words(&conv)];
    let mut out = vec![0i8; o.len()];
    conv2d_i8(
        &conv, &requant, data.input, &mut patch, &mut lanes, &mut out,
    );
    assert_eq!(out, chw_to_hwc(&expected, o), "{case:?}");
    let mut portable = vec![0x55; o.len()];
    conv2d_i8_portable(&conv, &requant, data.input, &mut patch, &mut portable);
    assert_eq!(portable, out, "{case:?}");
    // The padding written out around the input (the input zero point), no padding left.
    if let Some(unpadded) = conv.over_padded_input() {
        let row = i.width * i.channels;
        let mut room = vec![0x55; unpadded.input.len()];
        let fill_row = |y: usize, codes: &mut [i8]| {
            codes.copy_from_slice(&data.input[y * row..][..row]);
        };
        let pad = (case.geometry.pad, case.requant.input_zero);
        let padded = write_padded(fill_row, i, pad.0, pad.1, &mut room).expect("room");
        let mut over_padded = vec![0x55; o.len()];
        conv2d_i8(
            &unpadded,
            &requant,
            padded,
            &mut patch,
            &mut lanes,
            &mut over_padded,
        );
        assert_eq!(over_padded, out, "{case:?} over its padded input");
    }
}

/// An int8 dense layer against the reference.
fn check_dense_i8(case: &DenseCase, data: &CaseData<'_>) {
    let n = case.inputs;
    let expected: Vec<i8> = (0..case.outputs)
        .map(|o| {
            let row = &data.weights[o * n..(o + 1) * n];
            // No padding: the file's bias is the whole correction for the input zero point.
            let acc = data.input.iter().zip(row);
            let acc = acc.map(|(&x, &w)| i64::from(x) * i64::from(w as i8)).sum();
            expected_code(acc, o, data, &case.requant)
        })
        .collect();
    let requant = case.requant.requant(data);
    let mut lanes = vec![0u32; dense_lane_words(n)];
    let mut out = vec![0i8; case.outputs];
    dense_i8(
        data.input,
        data.weights,
        data.bias,
        &requant,
        &mut lanes,
        &mut out,
    );
    assert_eq!(out, expected, "{case:?}");
    let mut portable = vec![0x55; case.outputs];
    dense_i8_portable(data.input, data.weights, data.bias, &requant, &mut portable);
    assert_eq!(portable, out, "{case:?}");
    // Split at every neuron, as two cores run a layer: the two parts give the whole layer.
    for split in 0..=case.outputs {
        let mut parts = vec![0x55; case.outputs];
        let (first, second) = parts.split_at_mut(split);
        for (codes, part) in [(first, 0..split), (second, split..case.outputs)] {
            let (input, weights, bias) = (&*data.input, &*data.weights, &*data.bias);
            dense_i8_part(input, weights, bias, &requant, &mut lanes, codes, part);
        }
        assert_eq!(parts, out, "{case:?} split at neuron {split}");
    }
}

fn values<T: std::fmt::Debug>(
    len: usize,
    element: impl Strategy<Value = T>,
) -> impl Strategy<Value = Vec<T>> {
    proptest::collection::vec(element, len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn conv2d_f32_matches_the_naive_convolution(
        (case, x, w, bias, relu) in conv_case().prop_flat_map(|case| {
            let (xl, wl, o) = (case.input.len(), case.weights_len(), case.output.channels);
            (Just(case), values(xl, 0.0f32..1.0), values(wl, -1.0f32..1.0), values(o, -1.0f32..1.0), any::<bool>())
        })
    ) {
        check_conv_f32(&case, &x, &w, &bias, if relu { Activation::Relu } else { Activation::Identity });
    }

    #[test]
    fn int8_layers_match_the_naive_integer_reference(seed: u32) {
        let (mut random, mut host) = (Random::new(seed), HostBuffers::new());
        let conv = ConvCase::draw(&mut random, &LIMITS);
        check_conv_i8(&conv, &conv.data(&mut random, &mut host.buffers()));
        let dense = DenseCase::draw(&mut random, &LIMITS);
        check_dense_i8(&dense, &dense.data(&mut random, &mut host.buffers()));
    }

    #[test]
    fn every_int8_dot_product_form_equals_the_exact_sum(
        (x, w, v) in (0usize..100).prop_flat_map(|n| (values(n, any::<i8>()), values(n, any::<u8>()), values(n, any::<u8>())))
    ) {
        let exact = |w: &[u8]| -> i64 { x.iter().zip(w).map(|(&a, &b)| i64::from(a) * i64::from(b as i8)).sum() };
        prop_assert_eq!(i64::from(dot_i8_lanes(&x, &w)), exact(&w));
        prop_assert_eq!(i64::from(dot_i8_unrolled(&x, &w)), exact(&w));
        for (s, t) in [dot_i8_pair(&x, &w, &v), dot_i8_pair_unrolled(&x, &w, &v)] {
            prop_assert_eq!((i64::from(s), i64::from(t)), (exact(&w), exact(&v)));
        }
    }

    #[test]
    fn dense_f32_matches_naive_dot_products(
        (x, w, b) in (1usize..40, 1usize..8).prop_flat_map(|(n, o)| (
            values(n, -1.0f32..1.0), values(n * o, -1.0f32..1.0), values(o, -1.0f32..1.0)))
    ) {
        let (n, o) = (x.len(), b.len());
        let mut out = vec![0.0; o];
        dense_f32(&x, &f32_bytes(&w), &f32_bytes(&b), Activation::Identity, &mut out);
        for j in 0..o {
            let want: f64 = (0..n).map(|i| f64::from(x[i]) * f64::from(w[j * n + i])).sum::<f64>() + f64::from(b[j]);
            prop_assert!((f64::from(out[j]) - want).abs() <= 1e-4 * (1.0 + want.abs()));
        }
    }

    #[test]
    fn requantize_rounds_to_nearest(acc in any::<i32>(), m in (1i32 << 30)..i32::MAX, s in -31i32..=30) {
        let exact = f64::from(acc) * f64::from(m) * 2f64.powi(s - 31);
        let got = requantize(acc, m, s);
        if exact.abs() < 2e9 {
            prop_assert!((f64::from(got) - exact).abs() <= 0.5 + 1e-6, "{acc} * {m} * 2^({s}-31) = {exact}, got {got}");
        }
    }

    #[test]
    fn quantize_multiplier_encodes_the_real_multiplier(real in 1e-9f64..1e4) {
        let (m, s) = quantize_multiplier(real);
        prop_assert!(m >= 1 << 30, "{real}: {m}");
        let decoded = f64::from(m) * 2f64.powi(s - 31);
        prop_assert!(((decoded - real) / real).abs() <= 2f64.powi(-30), "{real} -> {decoded}");
    }
}

/// A convolution of `c` x `h` x `w` into `o` channels (plain int8 requantisation).
fn case(c: usize, o: usize, h: usize, w: usize, k: usize, s: usize, p: usize) -> ConvCase {
    let geometry = ConvGeometry {
        kernel: k,
        stride: s,
        pad: p,
    };
    let side = |n| {
        geometry
            .output_side(n)
            .expect("the kernel fits the padded input")
    };
    ConvCase {
        input: Shape {
            channels: c,
            height: h,
            width: w,
        },
        output: Shape {
            channels: o,
            height: side(h),
            width: side(w),
        },
        geometry,
        requant: RequantCase {
            input_zero: 0,
            output_zero: 0,
            relu: false,
            sigmoid: false,
        },
    }
}

fn ramp(len: usize, scale: f32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) * scale)
        .collect()
}

#[test]
fn codelab_conv_shapes() {
    for c in [
        case(1, 12, 28, 28, 3, 1, 1),
        case(12, 24, 28, 28, 6, 2, 2),
        case(24, 32, 14, 14, 6, 2, 2),
    ] {
        let (x, w) = (
            ramp(c.input.len(), 0.05)
                .iter()
                .map(|v| v.abs())
                .collect::<Vec<_>>(),
            ramp(c.weights_len(), 0.03),
        );
        check_conv_f32(&c, &x, &w, &ramp(c.output.channels, 0.1), Activation::Relu);
    }
}

#[test]
fn kernel_wider_than_the_input_reads_only_padding_around_it() {
    let c = case(2, 3, 2, 3, 5, 1, 2);
    check_conv_f32(
        &c,
        &ramp(c.input.len(), 0.1),
        &ramp(c.weights_len(), 0.2),
        &[0.5, -0.5, 0.0],
        Activation::Identity,
    );
}

#[test]
fn stride_larger_than_kernel_skips_inputs() {
    let c = case(1, 2, 9, 7, 2, 3, 0);
    check_conv_f32(
        &c,
        &ramp(c.input.len(), 0.1),
        &ramp(c.weights_len(), 0.2),
        &[0.0, 1.0],
        Activation::Identity,
    );
}

#[test]
fn int8_padding_with_a_nonzero_input_zero_point_is_exact() {
    let mut c = case(2, 2, 4, 4, 3, 1, 1);
    c.requant = RequantCase {
        input_zero: -128,
        output_zero: 5,
        relu: true,
        sigmoid: false,
    };
    let mut input: Vec<i8> = (0..c.input.len())
        .map(|i| (i as i32 * 37 % 256 - 128) as i8)
        .collect();
    let mut weights: Vec<u8> = (0..c.weights_len())
        .map(|i| (i as i32 * 53 % 255 - 127) as u8)
        .collect();
    let mut bias = i32_bytes(&[100, -100]);
    let mut table = i32_bytes(&[1 << 30, -6, i32::MAX, -8]);
    let data = CaseData {
        input: &mut input,
        weights: &mut weights,
        bias: &mut bias,
        table: &mut table,
        lut: &mut [0; 256],
    };
    check_conv_i8(&c, &data);
}

#[test]
fn requantize_saturates_instead_of_overflowing() {
    assert_eq!(requantize(i32::MAX, i32::MAX, 30), i32::MAX);
    assert_eq!(requantize(i32::MIN, i32::MAX, 30), i32::MIN);
    // Shifts beyond the documented range act as its ends (n is clamped to 1..=62).
    assert_eq!(
        requantize(i32::MIN, i32::MIN, -100),
        requantize(i32::MIN, i32::MIN, -31)
    );
    assert_eq!(requantize(7, 1 << 30, 100), requantize(7, 1 << 30, 30));
    assert_eq!(quantize_multiplier(0.0), (0, 0));
    assert_eq!(quantize_multiplier(f64::NAN), (0, 0));
}

proptest! {
    /// Any int8 zero points, relu or not, any accumulator and table: the output code is in
    /// range (once, a public `floor` above 127 made `clamp` panic), and a sigmoid table is
    /// indexed by code + 128.
    #[test]
    fn requantisation_codes_stay_in_range_for_any_parameters(
        input_zero: i8, output_zero: i8, relu: bool, acc: i32, bias: i32,
        multiplier in 0i32..=i32::MAX, shift in -40i32..40,
    ) {
        let table = i32_bytes(&[multiplier, shift]);
        let plain = Requant::new(&table, input_zero, output_zero, relu, &[]);
        let code = plain.code(0, acc, bias);
        let floor = if relu { output_zero } else { i8::MIN };
        prop_assert!(code >= floor, "{code} below {floor}");
        let lut: Vec<u8> = (0..=255u8).map(|i| i.wrapping_add(1)).collect();
        let looked_up = Requant::new(&table, input_zero, output_zero, relu, &lut).code(0, acc, bias);
        prop_assert_eq!(looked_up, (code as u8 ^ 0x80).wrapping_add(1) as i8);
        prop_assert_eq!(plain.input_zero(), input_zero);
    }
}

proptest! {
    /// A channel's decoded scale and the output code are the one rounding rule, bit for bit: `requantize`,
    /// plus the zero point with saturation, clamped from the floor, through the table.
    #[test]
    fn channel_requantisation_is_the_rounding_rule(
        input_zero: i8, output_zero: i8, relu: bool, acc: i32, bias: i32, with_lut: bool,
        multiplier in prop_oneof![0i32..=i32::MAX, (1i32 << 30)..=i32::MAX], shift in -80i32..80,
    ) {
        let table = i32_bytes(&[multiplier, shift]);
        let lut: Vec<u8> = (0..=255u8).map(|i| i.wrapping_mul(7)).collect();
        let lut: &[u8] = if with_lut { &lut } else { &[] };
        let requant = Requant::new(&table, input_zero, output_zero, relu, lut);
        let floor = if relu { i32::from(output_zero) } else { -128 };
        let code = requantize(acc.wrapping_add(bias), multiplier, shift)
            .saturating_add(i32::from(output_zero))
            .clamp(floor, 127) as i8;
        let expected = if with_lut { lut[(code as u8 ^ 0x80) as usize] as i8 } else { code };
        prop_assert_eq!(requant.output_code(requant.scale(0, bias).scaled(acc)), expected);
        prop_assert_eq!(requant.code(0, acc, bias), expected);
    }
}

proptest! {
    /// The Armv6-M convolution's four-pixel requantisation (multiplier halves, the zero point
    /// folded into the rounding, the clamp after the shift) is the rounding rule, bit for bit,
    /// for every scale it takes (`n` from 33 to 54), and refuses the others.
    #[test]
    fn quad_requantisation_is_the_rounding_rule(
        output_zero: i8, relu: bool, bias: i32, stride in 0usize..1000, correction: i32,
        accs in proptest::array::uniform4(prop_oneof![any::<i32>(), proptest::sample::select(&EDGES[..]), -70_000i32..70_000]),
        multiplier in prop_oneof![any::<i32>(), (1i32 << 30)..=i32::MAX, proptest::sample::select(&EDGES[..])],
        shift in -30i32..4,
    ) {
        let table = i32_bytes(&[multiplier, shift]);
        let requant = Requant::new(&table, 0, output_zero, relu, &[]);
        let scale = requant.scale(0, bias);
        let n = 31 - shift;
        match scale.quad_scale(&requant, stride, correction) {
            Some(quad) => {
                prop_assert!((33..=54).contains(&n), "n = {n} taken");
                prop_assert_eq!(quad.packed_biases(), (bias, bias.wrapping_add(correction)));
                prop_assert_eq!(quad.stride(), stride);
                let expected = accs.map(|acc| requant.clamped_code(scale.scaled(acc)));
                prop_assert_eq!(quad.codes(accs.map(|acc| acc.wrapping_add(bias))), expected);
            }
            None => prop_assert!(!(33..=54).contains(&n), "n = {n} refused"),
        }
    }
}

proptest! {
    /// The DSP convolution's requantisation (bias, rounding and zero point folded into one
    /// 64-bit addend, the top word shifted, the clamp after) is the rounding rule, bit for bit,
    /// for every scale and bias it takes (`n` from 32 to 53, `|bias| + bound` within an i32),
    /// on accumulators within the bound, and refuses the others.
    #[test]
    fn long_requantisation_is_the_rounding_rule(
        output_zero: i8, relu: bool,
        bias in prop_oneof![any::<i32>(), -100_000i32..100_000, proptest::sample::select(&EDGES[..])],
        bound in prop_oneof![0u32..=i32::MAX as u32, 0u32..5_000_000],
        accs in proptest::array::uniform4(any::<i32>()),
        multiplier in prop_oneof![any::<i32>(), (1i32 << 30)..=i32::MAX, proptest::sample::select(&EDGES[..])],
        shift in -30i32..4,
    ) {
        let table = i32_bytes(&[multiplier, shift]);
        let requant = Requant::new(&table, 0, output_zero, relu, &[]);
        let scale = requant.scale(0, bias);
        let n = 31 - shift;
        let fits = i64::from(bias).abs() + i64::from(bound) <= i64::from(i32::MAX);
        match scale.long_scale(&requant, bound) {
            Some(long) => {
                prop_assert!((32..=53).contains(&n) && fits, "n = {n}, bias {bias}, bound {bound} taken");
                let accs = accs.map(|acc| acc % (bound as i32).saturating_add(1));
                let expected = accs.map(|acc| requant.clamped_code(scale.scaled(acc)));
                prop_assert_eq!(long.codes(accs), expected);
            }
            None => prop_assert!(!((32..=53).contains(&n) && fits), "n = {n}, bias {bias}, bound {bound} refused"),
        }
    }
}

/// Values where 16-bit halves carry and borrow: the extremes and the halves' edges.
const EDGES: [i32; 10] = [
    i32::MIN,
    i32::MIN + 1,
    -65536,
    -65535,
    -1,
    0,
    1,
    65535,
    65536,
    i32::MAX,
];

proptest! {
    /// The Armv6-M requantisation's product, from 16-bit halves, is the i64 product's top word.
    #[test]
    fn the_top_word_from_halves_is_the_long_products(
        a in prop_oneof![any::<i32>(), proptest::sample::select(&EDGES[..])],
        b in prop_oneof![any::<i32>(), proptest::sample::select(&EDGES[..])],
    ) {
        prop_assert_eq!(mul_high(a, b), ((i64::from(a) * i64::from(b)) >> 32) as i32);
    }

    /// The Armv6-M requantisation from the top word alone (`n >= 33`) is the rounding rule.
    #[test]
    fn rounding_from_the_top_word_is_the_rounding_rule(
        acc in prop_oneof![any::<i32>(), proptest::sample::select(&EDGES[..])],
        multiplier in prop_oneof![any::<i32>(), proptest::sample::select(&EDGES[..])],
        rest in 0u32..=29,
    ) {
        let shift = 31 - (33 + rest as i32);
        prop_assert_eq!(scaled_from_high_word(acc, multiplier, rest), requantize(acc, multiplier, shift));
    }
}

#[test]
fn the_top_word_from_halves_holds_at_the_edges() {
    for a in EDGES {
        for b in EDGES {
            assert_eq!(
                mul_high(a, b),
                ((i64::from(a) * i64::from(b)) >> 32) as i32,
                "{a} x {b}"
            );
        }
    }
}
