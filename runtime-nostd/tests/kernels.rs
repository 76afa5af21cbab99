//! Every kernel against a naive reference written the obvious way (CHW, OIHW, f64 or exact
//! integer sums), over random shapes, strides, pads and quantisation parameters. Named cases
//! at the end pin the edge shapes proptest found or that matter most.

use proptest::prelude::*;
use runtime_nostd::format::{Activation, Shape};
use runtime_nostd::kernels::{
    Conv, ConvGeometry, Requant, conv_lane_words, conv2d_f32, conv2d_i8, dense_f32, dense_i8,
    dense_lane_words, dot_i8_lanes, dot_i8_pair, dot_i8_pair_unrolled, dot_i8_unrolled, patch_len,
    quantize_multiplier, requantize,
};

#[derive(Debug, Clone)]
struct ConvCase {
    input: Shape,
    out_channels: usize,
    geometry: ConvGeometry,
}

impl ConvCase {
    fn output(&self) -> Shape {
        let side = |s: usize| {
            (s + 2 * self.geometry.pad - self.geometry.kernel) / self.geometry.stride + 1
        };
        Shape {
            channels: self.out_channels,
            height: side(self.input.height),
            width: side(self.input.width),
        }
    }
    fn weights_len(&self) -> usize {
        self.out_channels * self.geometry.kernel * self.geometry.kernel * self.input.channels
    }
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        1usize..4,
        1usize..4,
        1usize..10,
        1usize..10,
        1usize..6,
        1usize..4,
        0usize..3,
    )
        .prop_filter_map(
            "kernel must fit the padded input",
            |(c, o, h, w, k, s, p)| {
                (h + 2 * p >= k && w + 2 * p >= k).then(|| case(c, o, h, w, k, s, p))
            },
        )
}

/// Naive convolution on CHW input and OIHW weights; `tap` turns (x, w) into the summand.
fn naive_conv<T: Copy>(
    case: &ConvCase,
    x_chw: &[T],
    w_oihw: &[T],
    mut acc: impl FnMut(usize, usize, usize, T, T),
) {
    let (i, o, g) = (case.input, case.output(), case.geometry);
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

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn i32_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn check_conv_f32(case: &ConvCase, x: &[f32], w: &[f32], bias: &[f32], activation: Activation) {
    let out_shape = case.output();
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
        case.out_channels,
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

/// The int8 reference: true zero padding, `(x - z_in) * w`, then the requantisation rule.
/// Quantisation side of an int8 conv case.
struct Int8Params<'a> {
    bias: &'a [i32],
    z_in: i32,
    z_out: i32,
    mult: &'a [(i32, i32)],
    relu: bool,
}

fn check_conv_i8(case: &ConvCase, x: &[i8], w: &[i8], q: &Int8Params<'_>) {
    let Int8Params {
        bias,
        z_in,
        z_out,
        mult,
        relu,
    } = *q;
    let out_shape = case.output();
    let mut acc = vec![0i64; out_shape.len()];
    naive_conv(case, x, w, |oc, oy, ox, xv, wv| {
        acc[(oc * out_shape.height + oy) * out_shape.width + ox] +=
            i64::from(i32::from(xv) - z_in) * i64::from(wv);
    });
    let plane = out_shape.height * out_shape.width;
    let floor = if relu { z_out } else { -128 };
    let expected: Vec<i8> = acc
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let oc = i / plane;
            let (m, s) = mult[oc];
            let r = requantize((a + i64::from(bias[oc])) as i32, m, s);
            r.saturating_add(z_out).clamp(floor, 127) as i8
        })
        .collect();
    // The file's biases fold in -z_in * sum(w) (FORMAT.md).
    let per = case.weights_len() / case.out_channels;
    let effective: Vec<i32> = (0..case.out_channels)
        .map(|oc| {
            bias[oc]
                - z_in
                    * w[oc * per..(oc + 1) * per]
                        .iter()
                        .map(|&v| i32::from(v))
                        .sum::<i32>()
        })
        .collect();
    let weights: Vec<u8> = oihw_to_ohwi(
        w,
        case.out_channels,
        case.input.channels,
        case.geometry.kernel,
    )
    .iter()
    .map(|&v| v as u8)
    .collect();
    let table: Vec<i32> = mult.iter().flat_map(|&(m, s)| [m, s]).collect();
    let (bias_bytes, table) = (i32_bytes(&effective), i32_bytes(&table));
    let conv = Conv {
        input: case.input,
        output: out_shape,
        geometry: case.geometry,
        weights: &weights,
        bias: &bias_bytes,
    };
    let code = |z: i32| i8::try_from(z).expect("zero points are int8 codes");
    let requant = Requant::new(&table, code(z_in), code(z_out), relu, &[]);
    let mut patch = vec![0i8; patch_len(&conv)];
    let mut lanes = vec![0u32; conv_lane_words(&conv)];
    let mut out = vec![0i8; out_shape.len()];
    conv2d_i8(
        &conv,
        &requant,
        &chw_to_hwc(x, case.input),
        &mut patch,
        &mut lanes,
        &mut out,
    );
    assert_eq!(out, chw_to_hwc(&expected, out_shape), "{case:?}");
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
            let (xl, wl, o) = (case.input.len(), case.weights_len(), case.out_channels);
            (Just(case), values(xl, 0.0f32..1.0), values(wl, -1.0f32..1.0), values(o, -1.0f32..1.0), any::<bool>())
        })
    ) {
        check_conv_f32(&case, &x, &w, &bias, if relu { Activation::Relu } else { Activation::Identity });
    }

    #[test]
    fn conv2d_i8_matches_the_naive_integer_convolution(
        (case, x, w, bias, z_in, z_out, mult, relu) in conv_case().prop_flat_map(|case| {
            let (xl, wl, o) = (case.input.len(), case.weights_len(), case.out_channels);
            (Just(case), values(xl, any::<i8>()), values(wl, -127i8..=127), values(o, -5000i32..5000),
             -128i32..=127, -128i32..=127, values(o, (1i32 << 30..i32::MAX, -20i32..2)), any::<bool>())
        })
    ) {
        check_conv_i8(&case, &x, &w, &Int8Params { bias: &bias, z_in, z_out, mult: &mult, relu });
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
    fn dense_kernels_match_naive_dot_products(
        (x, w, b, xi, wi, bi, z_in, (m, s)) in (1usize..40, 1usize..8).prop_flat_map(|(n, o)| (
            values(n, -1.0f32..1.0), values(n * o, -1.0f32..1.0), values(o, -1.0f32..1.0),
            values(n, any::<i8>()), values(n * o, -127i8..=127), values(o, -3000i32..3000),
            -128i32..=127, (1i32 << 30..i32::MAX, -16i32..0)))
    ) {
        let (n, o) = (x.len(), b.len());
        let mut out = vec![0.0; o];
        dense_f32(&x, &f32_bytes(&w), &f32_bytes(&b), Activation::Identity, &mut out);
        for j in 0..o {
            let want: f64 = (0..n).map(|i| f64::from(x[i]) * f64::from(w[j * n + i])).sum::<f64>() + f64::from(b[j]);
            prop_assert!((f64::from(out[j]) - want).abs() <= 1e-4 * (1.0 + want.abs()));
        }
        let effective: Vec<i32> = (0..o).map(|j| bi[j] - z_in * wi[j * n..(j + 1) * n].iter().map(|&v| i32::from(v)).sum::<i32>()).collect();
        let table = i32_bytes(&(0..o).flat_map(|_| [m, s]).collect::<Vec<_>>());
        let requant = Requant::new(&table, i8::try_from(z_in).unwrap(), 0, false, &[]);
        let weights: Vec<u8> = wi.iter().map(|&v| v as u8).collect();
        let mut codes = vec![0i8; o];
        let mut lanes = vec![0u32; dense_lane_words(n)];
        dense_i8(&xi, &weights, &i32_bytes(&effective), &requant, &mut lanes, &mut codes);
        for j in 0..o {
            let acc: i32 = (0..n).map(|i| (i32::from(xi[i]) - z_in) * i32::from(wi[j * n + i])).sum::<i32>() + bi[j];
            prop_assert_eq!(i32::from(codes[j]), requantize(acc, m, s).clamp(-128, 127));
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

fn case(c: usize, o: usize, h: usize, w: usize, k: usize, s: usize, p: usize) -> ConvCase {
    ConvCase {
        input: Shape {
            channels: c,
            height: h,
            width: w,
        },
        out_channels: o,
        geometry: ConvGeometry {
            kernel: k,
            stride: s,
            pad: p,
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
        check_conv_f32(&c, &x, &w, &ramp(c.out_channels, 0.1), Activation::Relu);
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
    let c = case(2, 2, 4, 4, 3, 1, 1);
    let x: Vec<i8> = (0..c.input.len())
        .map(|i| (i as i32 * 37 % 256 - 128) as i8)
        .collect();
    let w: Vec<i8> = (0..c.weights_len())
        .map(|i| (i as i32 * 53 % 255 - 127) as i8)
        .collect();
    check_conv_i8(
        &c,
        &x,
        &w,
        &Int8Params {
            bias: &[100, -100],
            z_in: -128,
            z_out: 5,
            mult: &[(1 << 30, -6), (i32::MAX, -8)],
            relu: true,
        },
    );
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
