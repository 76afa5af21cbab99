//! Export to the flat weight format of `runtime-nostd` (see `runtime-nostd/FORMAT.md`), in two
//! variants:
//!
//! - f32, with batch norm folded into the preceding conv/dense weights and biases;
//! - int8 in the TFLite/CMSIS-NN scheme: weights symmetric per output channel (-127..127),
//!   activations asymmetric per tensor calibrated by running the f32 flat model over training
//!   images, int32 biases at scale `s_in * s_w[c]`, fixed-point requantisation.
//!
//! The files are written with `runtime_nostd::write`, the same definitions the reader parses.

use runtime_nostd::format::{
    self, Activation as FlatActivation, LayerKind, Quantization, SIGMOID_INPUT, SIGMOID_OUTPUT,
    Shape, Variant,
};
use runtime_nostd::kernels::quantize_multiplier;
use runtime_nostd::write::{LayerSpec, NO_QUANTIZATION, f32_bytes, i32_bytes, write_model};

use super::layers::{Activation, BatchNormParams, Layer};
use crate::data::{CLASSES, IMAGE_SIDE, Mnist};

/// Quantisation of the model input: pixels / 256 with codes `pixel - 128`, exact.
pub const INPUT_QUANT: Quantization = Quantization {
    scale: 1.0 / 256.0,
    zero_point: -128,
};
/// Training images the int8 calibration runs through the f32 model.
pub const CALIBRATION_IMAGES: usize = 2000;

/// A layer after batch-norm folding, in the runtime's layouts (OHWI conv weights, `[out][in]`
/// dense weights over HWC-ordered inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedLayer {
    /// Conv, dense or flatten.
    pub kind: LayerKind,
    /// Output non-linearity.
    pub activation: FlatActivation,
    /// (kernel, stride, pad) for convs.
    pub geometry: (usize, usize, usize),
    /// Input shape.
    pub input: Shape,
    /// Output shape.
    pub output: Shape,
    /// Weights, one row of `per_output` values per output channel.
    pub weights: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
}

/// Folds inference batch norm `y = (x - mean) / sqrt(var + eps) * gamma + beta` into the rows of
/// a layer whose output channel `c` is `rows[c] . x + bias[c]`.
///
/// ```
/// use trainer::export::flat::fold_batch_norm;
/// use trainer::export::layers::BatchNormParams;
/// let bn = BatchNormParams { gamma: vec![2.0], beta: vec![1.0], mean: vec![3.0], variance: vec![4.0 - 1e-3], epsilon: 1e-3 };
/// let (w, b) = fold_batch_norm(&[1.0, -1.0], &[0.0], &bn);
/// assert_eq!(w, [1.0, -1.0]);  // scale 2 / sqrt(4) = 1
/// assert_eq!(b, [-2.0]);       // (0 - 3) * 1 + 1
/// ```
pub fn fold_batch_norm(
    weights: &[f32],
    bias: &[f32],
    norm: &BatchNormParams,
) -> (Vec<f32>, Vec<f32>) {
    let per_output = weights.len() / bias.len().max(1);
    let scale: Vec<f64> = norm
        .gamma
        .iter()
        .zip(&norm.variance)
        .map(|(&g, &v)| f64::from(g) / (f64::from(v) + norm.epsilon).sqrt())
        .collect();
    let folded_weights = weights
        .chunks(per_output.max(1))
        .zip(&scale)
        .flat_map(|(row, &s)| row.iter().map(move |&w| (f64::from(w) * s) as f32))
        .collect();
    let folded_bias = bias
        .iter()
        .zip(&scale)
        .zip(norm.mean.iter().zip(&norm.beta))
        .map(|((&b, &s), (&m, &beta))| ((f64::from(b) - f64::from(m)) * s + f64::from(beta)) as f32)
        .collect();
    (folded_weights, folded_bias)
}

fn flat_activation(activation: Activation) -> FlatActivation {
    match activation {
        Activation::Identity => FlatActivation::Identity,
        Activation::Relu => FlatActivation::Relu,
        Activation::Sigmoid => FlatActivation::Sigmoid,
    }
}

/// `[out, in, k, k]` (burn, ONNX) to `[out][k][k][in]` (runtime).
fn oihw_to_ohwi(w: &[f32], out: usize, input: usize, k: usize) -> Vec<f32> {
    let mut v = vec![0.0; w.len()];
    for o in 0..out {
        for i in 0..input {
            for ky in 0..k {
                for kx in 0..k {
                    v[((o * k + ky) * k + kx) * input + i] = w[((o * input + i) * k + ky) * k + kx];
                }
            }
        }
    }
    v
}

/// Dense weight `[in, out]` (burn) whose inputs come CHW-flattened from `source` to rows
/// `[out][in]` over the runtime's HWC order.
fn dense_rows(w: &[f32], inputs: usize, outputs: usize, source: Shape) -> Vec<f32> {
    let plane = source.height * source.width;
    let mut rows = vec![0.0; w.len()];
    for o in 0..outputs {
        for c in 0..source.channels {
            for p in 0..plane {
                rows[o * inputs + p * source.channels + c] = w[(c * plane + p) * outputs + o];
            }
        }
    }
    rows
}

/// Folds batch norm and converts layouts; `Layer`s come from [`super::layers::inference_layers`].
pub fn fold_layers(layers: &[Layer]) -> Vec<FoldedLayer> {
    let mut shape = Shape {
        channels: 1,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
    };
    // What a flatten just flattened: the next dense layer's inputs are HWC of it.
    let mut flattened: Option<Shape> = None;
    let mut folded = Vec::new();
    for layer in layers {
        let (kind, activation, geometry, output, weights, bias, norm) = match layer {
            Layer::Flatten => {
                flattened = Some(shape);
                let output = Shape {
                    channels: shape.len(),
                    height: 1,
                    width: 1,
                };
                (
                    LayerKind::Flatten,
                    Activation::Identity,
                    (0, 0, 0),
                    output,
                    vec![],
                    vec![],
                    None,
                )
            }
            Layer::Conv {
                weight,
                bias,
                stride,
                pad,
                norm,
                activation,
            } => {
                let (out, k) = (weight.dims[0], weight.dims[2]);
                let side = |s| format::conv_output_side(s, k, *stride, *pad).unwrap_or(0);
                let output = Shape {
                    channels: out,
                    height: side(shape.height),
                    width: side(shape.width),
                };
                let w = oihw_to_ohwi(&weight.values, out, shape.channels, k);
                (
                    LayerKind::Conv2d,
                    *activation,
                    (k, *stride, *pad),
                    output,
                    w,
                    bias.clone().unwrap_or(vec![0.0; out]),
                    norm.as_ref(),
                )
            }
            Layer::Dense {
                weight,
                bias,
                norm,
                activation,
            } => {
                let (inputs, out) = (weight.dims[0], weight.dims[1]);
                let output = Shape {
                    channels: out,
                    height: 1,
                    width: 1,
                };
                let source = flattened.take().unwrap_or(Shape {
                    channels: inputs,
                    height: 1,
                    width: 1,
                });
                let w = dense_rows(&weight.values, inputs, out, source);
                (
                    LayerKind::Dense,
                    *activation,
                    (0, 0, 0),
                    output,
                    w,
                    bias.clone().unwrap_or(vec![0.0; out]),
                    norm.as_ref(),
                )
            }
        };
        let (weights, bias) = match norm {
            Some(n) => fold_batch_norm(&weights, &bias, n),
            None => (weights, bias),
        };
        folded.push(FoldedLayer {
            kind,
            activation: flat_activation(activation),
            geometry,
            input: shape,
            output,
            weights,
            bias,
        });
        shape = output;
    }
    folded
}

fn spec(layer: &FoldedLayer) -> LayerSpec {
    let (kernel, stride, pad) = layer.geometry;
    LayerSpec {
        kind: layer.kind,
        activation: layer.activation,
        kernel,
        stride,
        pad,
        input: layer.input,
        output_channels: layer.output.channels,
        weights: vec![],
        bias: vec![],
        requant: vec![],
        lut: vec![],
        input_quant: NO_QUANTIZATION,
        output_quant: NO_QUANTIZATION,
    }
}

fn input_shape() -> Shape {
    Shape {
        channels: 1,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
    }
}

/// The f32 flat file of the folded layers.
pub fn write_f32(layers: &[FoldedLayer], metadata: &[(&str, String)]) -> Result<Vec<u8>, String> {
    let specs: Vec<LayerSpec> = layers
        .iter()
        .map(|l| match l.kind {
            LayerKind::Flatten => LayerSpec::flatten(l.input, NO_QUANTIZATION),
            _ => LayerSpec {
                weights: f32_bytes(&l.weights),
                bias: f32_bytes(&l.bias),
                ..spec(l)
            },
        })
        .collect();
    write_model(Variant::F32, input_shape(), CLASSES, metadata, &specs)
        .map_err(|e| format!("{e:?}"))
}

/// Per layer, the (min, max) of its output over the calibration images, from the f32 flat model.
pub fn calibrate(f32_file: &[u8], images: &Mnist) -> Result<Vec<(f32, f32)>, String> {
    let model = runtime_nostd::Model::parse(f32_file).map_err(|e| format!("{e:?}"))?;
    let mut ranges = vec![(0.0f32, 0.0f32); model.layers().count()];
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut probabilities = [0.0; CLASSES];
    for i in 0..images.len() {
        let bytes = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
        model
            .infer_observed(
                images.image(i),
                bytes,
                &mut probabilities,
                &mut |layer, values| {
                    let range = &mut ranges[layer];
                    for &v in values {
                        range.0 = range.0.min(v);
                        range.1 = range.1.max(v);
                    }
                },
            )
            .map_err(|e| format!("{e:?}"))?;
    }
    Ok(ranges)
}

/// Asymmetric int8 quantisation covering `[min, max]` (and 0, so zero padding is exact).
pub fn activation_quant(min: f32, max: f32) -> Quantization {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let scale = if max > min { (max - min) / 255.0 } else { 1.0 };
    let zero_point = (-128.0 - min / scale).round().clamp(-128.0, 127.0) as i32;
    Quantization { scale, zero_point }
}

/// The 256-entry sigmoid table: code `c` of [`SIGMOID_INPUT`] to its code in [`SIGMOID_OUTPUT`].
pub fn sigmoid_lut() -> Vec<u8> {
    (-128i32..128)
        .map(|c| {
            let x = f64::from(c) * f64::from(SIGMOID_INPUT.scale);
            let y = 1.0 / (1.0 + (-x).exp());
            let q =
                (y / f64::from(SIGMOID_OUTPUT.scale)).round() as i32 + SIGMOID_OUTPUT.zero_point;
            q.clamp(-128, 127) as i8 as u8
        })
        .collect()
}

/// Quantises one folded layer given its input quantisation and calibrated output range.
fn quantize_layer(layer: &FoldedLayer, input_quant: Quantization, range: (f32, f32)) -> LayerSpec {
    let outputs = layer.output.channels;
    let per_output = layer.weights.len() / outputs.max(1);
    let sigmoid = layer.activation == FlatActivation::Sigmoid;
    let (output_quant, target) = if sigmoid {
        (SIGMOID_OUTPUT, SIGMOID_INPUT)
    } else {
        let q = activation_quant(range.0, range.1);
        (q, q)
    };
    let (mut weights, mut bias, mut requant) = (Vec::new(), Vec::new(), Vec::new());
    for (row, &b) in layer.weights.chunks(per_output.max(1)).zip(&layer.bias) {
        let max_abs = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let weight_scale = if max_abs > 0.0 {
            f64::from(max_abs) / 127.0
        } else {
            1.0
        };
        let codes: Vec<i8> = row
            .iter()
            .map(|&w| (f64::from(w) / weight_scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let bias_scale = f64::from(input_quant.scale) * weight_scale;
        // The runtime sums x*w over raw input codes: fold -z_in * sum(w) into the bias.
        let code_sum: i64 = codes.iter().map(|&c| i64::from(c)).sum();
        let effective = (f64::from(b) / bias_scale).round() as i64
            - i64::from(input_quant.zero_point) * code_sum;
        bias.push(effective.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
        weights.extend(codes.iter().map(|&c| c as u8));
        let (multiplier, shift) = quantize_multiplier(bias_scale / f64::from(target.scale));
        requant.extend([multiplier, shift]);
    }
    LayerSpec {
        weights,
        bias: i32_bytes(&bias),
        requant: i32_bytes(&requant),
        lut: if sigmoid { sigmoid_lut() } else { vec![] },
        input_quant,
        output_quant,
        ..spec(layer)
    }
}

/// The int8 flat file: calibrates on `calibration` through the f32 file, then quantises.
pub fn write_int8(
    layers: &[FoldedLayer],
    f32_file: &[u8],
    calibration: &Mnist,
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let ranges = calibrate(f32_file, calibration)?;
    let mut quant = INPUT_QUANT;
    let mut specs = Vec::new();
    for (layer, &range) in layers.iter().zip(&ranges) {
        let spec = match layer.kind {
            LayerKind::Flatten => LayerSpec::flatten(layer.input, quant),
            _ => quantize_layer(layer, quant, range),
        };
        quant = spec.output_quant;
        specs.push(spec);
    }
    write_model(Variant::Int8, input_shape(), CLASSES, metadata, &specs)
        .map_err(|e| format!("{e:?}"))
}
