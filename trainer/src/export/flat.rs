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
    ConvGeometry, INPUT_QUANTIZATION, Layer as FlatLayer, LayerKind, NO_QUANTIZATION, Payload,
    Quantization, SIGMOID_INPUT_ZERO_POINT, SIGMOID_OUTPUT, Shape, Variant,
};
use runtime_nostd::kernels::quantize_multiplier;
use runtime_nostd::write::{LayerSpec, WriteError, f32_bytes, i32_bytes, write_model};
use runtime_nostd::{InferError, ParseError};

use super::layers::{Activation, BatchNormParams, Layer};
use crate::data::{IMAGE_SIDE, Mnist};

/// Why a flat file could not be made.
#[derive(Debug, Clone, PartialEq)]
pub enum FlatExportError {
    /// The writer refused the layers.
    Write(WriteError),
    /// The f32 file, read back for calibration, does not parse.
    Parse(ParseError),
    /// Calibration inference failed.
    Infer(InferError),
}

impl std::fmt::Display for FlatExportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlatExportError::Write(e) => write!(f, "cannot write the flat file: {e}"),
            FlatExportError::Parse(e) => write!(f, "the f32 flat file does not parse: {e}"),
            FlatExportError::Infer(e) => write!(f, "calibration inference failed: {e}"),
        }
    }
}

impl std::error::Error for FlatExportError {}

impl From<WriteError> for FlatExportError {
    fn from(e: WriteError) -> Self {
        FlatExportError::Write(e)
    }
}
/// Training images the int8 calibration runs through the f32 model.
pub const CALIBRATION_IMAGES: usize = 2000;

/// A layer after batch-norm folding, in the runtime's layouts (OHWI conv weights, `[out][in]`
/// dense weights over HWC-ordered inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedLayer {
    /// Conv, dense or flatten.
    pub kind: LayerKind,
    /// Output non-linearity.
    pub activation: Activation,
    /// Kernel, stride and padding (convs), or none.
    pub geometry: ConvGeometry,
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
                    ConvGeometry::NONE,
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
                let geometry = ConvGeometry {
                    kernel: k,
                    stride: *stride,
                    pad: *pad,
                };
                let side = |s| geometry.output_side(s).unwrap_or(0);
                let output = Shape {
                    channels: out,
                    height: side(shape.height),
                    width: side(shape.width),
                };
                let w = oihw_to_ohwi(&weight.values, out, shape.channels, k);
                (
                    LayerKind::Conv2d,
                    *activation,
                    geometry,
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
                    ConvGeometry::NONE,
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
            activation,
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

/// The layer to write with `payload` (f32 files: quantisation fields unused).
fn spec(
    layer: &FoldedLayer,
    payload: Payload<Vec<u8>>,
    quant: (Quantization, Quantization),
) -> LayerSpec {
    FlatLayer {
        kind: layer.kind,
        activation: layer.activation,
        geometry: layer.geometry,
        input: layer.input,
        output: layer.output,
        payload,
        input_quant: quant.0,
        output_quant: quant.1,
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
pub fn write_f32(
    layers: &[FoldedLayer],
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, FlatExportError> {
    let specs: Vec<LayerSpec> = layers
        .iter()
        .map(|l| match l.kind {
            LayerKind::Flatten => LayerSpec::flatten(l.input, NO_QUANTIZATION),
            LayerKind::Conv2d | LayerKind::Dense => {
                let payload = Payload {
                    weights: f32_bytes(&l.weights),
                    bias: f32_bytes(&l.bias),
                    ..Payload::default()
                };
                spec(l, payload, (NO_QUANTIZATION, NO_QUANTIZATION))
            }
        })
        .collect();
    // The last layer's outputs are the classes.
    let classes = layers.last().map_or(0, |l| l.bias.len());
    Ok(write_model(
        Variant::F32,
        input_shape(),
        classes,
        metadata,
        &specs,
    )?)
}

/// What calibration learns about one layer over the calibration images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerStats {
    /// (min, max) of the layer's output.
    pub range: (f32, f32),
    /// Sigmoid layers: every pre-activation value seen (recovered from the output, clamped to
    /// +-16, where an f32 sigmoid saturates), for choosing their quantisation.
    pub pre_activations: Vec<f32>,
}

/// Per layer, what the f32 flat model's outputs look like over the calibration images.
pub fn calibrate(f32_file: &[u8], images: &Mnist) -> Result<Vec<LayerStats>, FlatExportError> {
    let model = runtime_nostd::Model::parse(f32_file).map_err(FlatExportError::Parse)?;
    let sigmoid: Vec<bool> = model
        .layers()
        .map(|l| match l.activation {
            Activation::Sigmoid => true,
            Activation::Identity | Activation::Relu => false,
        })
        .collect();
    let mut stats = vec![LayerStats::default(); sigmoid.len()];
    let mut scratch = vec![0u32; model.scratch_bytes().div_ceil(4)];
    let mut probabilities = vec![0.0; model.classes()];
    for i in 0..images.len() {
        let bytes = bytemuck::cast_slice_mut::<u32, u8>(&mut scratch);
        model
            .infer_observed(
                images.image(i),
                bytes,
                &mut probabilities,
                &mut |layer, values| {
                    let layer_stats = &mut stats[layer];
                    for &v in values {
                        layer_stats.range.0 = layer_stats.range.0.min(v);
                        layer_stats.range.1 = layer_stats.range.1.max(v);
                    }
                    if sigmoid[layer] {
                        let logit = |y: f32| (f64::from(y) / (1.0 - f64::from(y))).ln() as f32;
                        let pre = values.iter().map(|&y| logit(y).clamp(-16.0, 16.0));
                        layer_stats.pre_activations.extend(pre);
                    }
                },
            )
            .map_err(FlatExportError::Infer)?;
    }
    Ok(stats)
}

/// Asymmetric int8 quantisation covering `[min, max]` (and 0, so zero padding is exact).
pub fn activation_quant(min: f32, max: f32) -> Quantization {
    let (min, max) = (min.min(0.0), max.max(0.0));
    let scale = if max > min { (max - min) / 255.0 } else { 1.0 };
    let zero_point = (-128.0 - min / scale).round().clamp(-128.0, 127.0) as i32;
    Quantization { scale, zero_point }
}

/// The 256-entry sigmoid table of a pre-activation quantisation `scale` (zero point 0): code
/// `c` to the [`SIGMOID_OUTPUT`] code of `sigmoid(c * scale)`.
pub fn sigmoid_lut(scale: f32) -> Vec<u8> {
    (-128i32..128)
        .map(|c| sigmoid_code(f64::from(c) * f64::from(scale)) as u8)
        .collect()
}

fn sigmoid_code(x: f64) -> i8 {
    let y = 1.0 / (1.0 + (-x).exp());
    let q = (y / f64::from(SIGMOID_OUTPUT.scale)).round() as i32 + SIGMOID_OUTPUT.zero_point;
    q.clamp(-128, 127) as i8
}

/// The pre-activation scale of an int8 sigmoid layer (zero point 0): of the scales that cover
/// +-1 to +-32 in quarter-octave steps, the one whose 256-code table gives the smallest mean
/// squared output error over the calibration pre-activations. A wide range costs resolution
/// where the sigmoid is steep, a narrow one clips: the data decides (the format's first
/// exporter fixed 1/16, +-8).
pub fn sigmoid_input_scale(pre_activations: &[f32]) -> f32 {
    let error = |scale: f32| -> f64 {
        let table = sigmoid_lut(scale);
        pre_activations
            .iter()
            .map(|&x| {
                let code = (f64::from(x) / f64::from(scale))
                    .round()
                    .clamp(-128.0, 127.0) as i32;
                let out = (table[(code + 128) as usize] as i8 as i32 - SIGMOID_OUTPUT.zero_point)
                    as f64
                    * f64::from(SIGMOID_OUTPUT.scale);
                let exact = 1.0 / (1.0 + (-f64::from(x)).exp());
                (out - exact).powi(2)
            })
            .sum()
    };
    (8..=28)
        .map(|k| 2f32.powf(-(k as f32) / 4.0))
        .map(|scale| (scale, error(scale)))
        .fold((1.0 / 16.0, f64::INFINITY), |best, (scale, e)| {
            if e < best.1 { (scale, e) } else { best }
        })
        .0
}

/// A conv or dense layer in int8: the one quantisation that both the int8 flat file and the int8
/// ONNX twin (`export::onnx::to_int8_onnx`) are written from.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedLayer {
    /// The f32 layer it quantises (kind, activation, geometry, shapes).
    pub layer: FoldedLayer,
    /// Quantisation of the layer's input.
    pub input_quant: Quantization,
    /// Quantisation of the layer's output.
    pub output_quant: Quantization,
    /// What the accumulator is requantised to: the output's quantisation, or for a sigmoid its
    /// pre-activation's (zero point [`SIGMOID_INPUT_ZERO_POINT`]), which the table then maps.
    pub target: Quantization,
    /// Weight codes in -127..=127, one row per output channel, in the runtime's layouts.
    pub weights: Vec<i8>,
    /// Per output channel: real weight = code * scale (symmetric, zero point 0).
    pub weight_scales: Vec<f64>,
    /// Per output channel: real bias = code * `input_quant.scale * weight_scales[c]`.
    pub bias: Vec<i32>,
    /// The sigmoid table (256 codes), or empty.
    pub lut: Vec<u8>,
}

/// One step of the int8 network.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantizedStep {
    /// A flatten of an input of this shape and quantisation (codes pass through unchanged).
    Flatten {
        /// Its input shape.
        input: Shape,
        /// Its input (and output) quantisation.
        quant: Quantization,
    },
    /// A convolution (weights OHWI).
    Conv(QuantizedLayer),
    /// A dense layer (weights `[out][in]`, inputs in HWC order after a flatten).
    Dense(QuantizedLayer),
}

impl QuantizedStep {
    /// The quantisation of the step's output codes.
    pub fn output_quant(&self) -> Quantization {
        match self {
            QuantizedStep::Flatten { quant, .. } => *quant,
            QuantizedStep::Conv(q) | QuantizedStep::Dense(q) => q.output_quant,
        }
    }
}

/// Quantises one folded layer given its input quantisation and calibration.
fn quantize_layer(
    layer: &FoldedLayer,
    input_quant: Quantization,
    stats: &LayerStats,
) -> QuantizedLayer {
    let outputs = layer.output.channels;
    let per_output = layer.weights.len() / outputs.max(1);
    // What the accumulator is requantised to, the output's quantisation, the sigmoid table.
    let (target, output_quant, lut) = match layer.activation {
        Activation::Sigmoid => {
            let scale = sigmoid_input_scale(&stats.pre_activations);
            let pre = Quantization {
                scale,
                zero_point: SIGMOID_INPUT_ZERO_POINT,
            };
            (pre, SIGMOID_OUTPUT, sigmoid_lut(scale))
        }
        Activation::Identity | Activation::Relu => {
            let q = activation_quant(stats.range.0, stats.range.1);
            (q, q, vec![])
        }
    };
    let (mut weights, mut weight_scales, mut bias) = (Vec::new(), Vec::new(), Vec::new());
    for (row, &b) in layer.weights.chunks(per_output.max(1)).zip(&layer.bias) {
        let max_abs = row.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let weight_scale = if max_abs > 0.0 {
            f64::from(max_abs) / 127.0
        } else {
            1.0
        };
        weights.extend(
            row.iter()
                .map(|&w| (f64::from(w) / weight_scale).round().clamp(-127.0, 127.0) as i8),
        );
        let bias_scale = f64::from(input_quant.scale) * weight_scale;
        let code = (f64::from(b) / bias_scale).round();
        bias.push(code.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32);
        weight_scales.push(weight_scale);
    }
    QuantizedLayer {
        layer: layer.clone(),
        input_quant,
        output_quant,
        target,
        weights,
        weight_scales,
        bias,
        lut,
    }
}

/// The flat file's record of a quantised layer: the runtime sums `x * w` over raw input codes,
/// so `-z_in * sum(w)` is folded into the bias, and the requantisation is fixed point.
fn int8_spec(q: &QuantizedLayer) -> LayerSpec {
    let per_output = q.weights.len() / q.bias.len().max(1);
    let mut bias = Vec::with_capacity(q.bias.len());
    let mut requant = Vec::with_capacity(2 * q.bias.len());
    for ((row, &code), &weight_scale) in q
        .weights
        .chunks(per_output.max(1))
        .zip(&q.bias)
        .zip(&q.weight_scales)
    {
        let code_sum: i64 = row.iter().map(|&c| i64::from(c)).sum();
        let effective = i64::from(code) - i64::from(q.input_quant.zero_point) * code_sum;
        bias.push(effective.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
        let bias_scale = f64::from(q.input_quant.scale) * weight_scale;
        let (multiplier, shift) = quantize_multiplier(bias_scale / f64::from(q.target.scale));
        requant.extend([multiplier, shift]);
    }
    let payload = Payload {
        weights: q.weights.iter().map(|&c| c as u8).collect(),
        bias: i32_bytes(&bias),
        requant: i32_bytes(&requant),
        lut: q.lut.clone(),
    };
    spec(&q.layer, payload, (q.input_quant, q.output_quant))
}

/// Calibrates on `calibration` through the f32 file, then quantises every layer.
pub fn quantize(
    layers: &[FoldedLayer],
    f32_file: &[u8],
    calibration: &Mnist,
) -> Result<Vec<QuantizedStep>, FlatExportError> {
    let stats = calibrate(f32_file, calibration)?;
    let mut quant = INPUT_QUANTIZATION;
    let mut steps = Vec::new();
    for (layer, layer_stats) in layers.iter().zip(&stats) {
        let step = match layer.kind {
            LayerKind::Flatten => QuantizedStep::Flatten {
                input: layer.input,
                quant,
            },
            LayerKind::Conv2d => QuantizedStep::Conv(quantize_layer(layer, quant, layer_stats)),
            LayerKind::Dense => QuantizedStep::Dense(quantize_layer(layer, quant, layer_stats)),
        };
        quant = step.output_quant();
        steps.push(step);
    }
    Ok(steps)
}

/// Outputs of the last quantised layer: the classes.
pub fn classes(steps: &[QuantizedStep]) -> usize {
    match steps.last() {
        Some(QuantizedStep::Conv(q) | QuantizedStep::Dense(q)) => q.bias.len(),
        Some(QuantizedStep::Flatten { .. }) | None => 0,
    }
}

/// The int8 flat file of quantised layers.
pub fn write_int8(
    steps: &[QuantizedStep],
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, FlatExportError> {
    let classes = classes(steps);
    let specs: Vec<LayerSpec> = steps
        .iter()
        .map(|step| match step {
            QuantizedStep::Flatten { input, quant } => LayerSpec::flatten(*input, *quant),
            QuantizedStep::Conv(q) | QuantizedStep::Dense(q) => int8_spec(q),
        })
        .collect();
    Ok(write_model(
        Variant::Int8,
        input_shape(),
        classes,
        metadata,
        &specs,
    )?)
}
