//! The third step of the export pipeline: the folded layers in int8, in the TFLite/CMSIS-NN
//! scheme: weights symmetric per output channel (-127..127), activations asymmetric per tensor,
//! calibrated by running the f32 flat model over training images, int32 biases at
//! `s_in * s_w[c]`. The int8 flat file and the int8 ONNX twin are both written from this one
//! quantisation, weights in the pipeline's layout (see [`layers`](super::layers)).

use runtime_nostd::format::{
    INPUT_QUANTIZATION, Quantization, SIGMOID_INPUT_ZERO_POINT, SIGMOID_OUTPUT,
};
use runtime_nostd::{InferError, ParseError};

use super::fold::FoldedLayer;
use super::layers::Activation;
use crate::data::Mnist;

/// Training images the int8 calibration runs through the f32 model.
pub const CALIBRATION_IMAGES: usize = 2000;

/// Why calibration failed.
#[derive(Debug, Clone, PartialEq)]
pub enum CalibrationError {
    /// The f32 flat file, read back for calibration, does not parse.
    Parse(ParseError),
    /// Calibration inference failed.
    Infer(InferError),
}

impl std::fmt::Display for CalibrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CalibrationError::Parse(e) => write!(f, "the f32 flat file does not parse: {e}"),
            CalibrationError::Infer(e) => write!(f, "calibration inference failed: {e}"),
        }
    }
}

impl std::error::Error for CalibrationError {}

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
pub fn calibrate(f32_file: &[u8], images: &Mnist) -> Result<Vec<LayerStats>, CalibrationError> {
    let model = runtime_nostd::Model::parse(f32_file).map_err(CalibrationError::Parse)?;
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
            .map_err(CalibrationError::Infer)?;
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

/// A layer in int8. A layer without weights (a flatten) passes its input codes through: its
/// output quantisation is its input's, its weights, biases and table are empty.
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
    /// Weight codes in -127..=127, in the layout of [`FoldedLayer::weights`].
    pub weights: Vec<i8>,
    /// Per output channel: real weight = code * scale (symmetric, zero point 0).
    pub weight_scales: Vec<f64>,
    /// Per output channel: real bias = code * `input_quant.scale * weight_scales[c]`.
    pub bias: Vec<i32>,
    /// The sigmoid table (256 codes), or empty.
    pub lut: Vec<u8>,
}

impl QuantizedLayer {
    /// The weight codes of each output channel, in order.
    pub fn rows(&self) -> std::slice::Chunks<'_, i8> {
        self.weights.chunks(self.layer.weights_per_output().max(1))
    }
}

/// Quantises one folded layer given its input quantisation and calibration.
fn quantize_layer(
    layer: &FoldedLayer,
    input_quant: Quantization,
    stats: &LayerStats,
) -> QuantizedLayer {
    if layer.weights.is_empty() {
        return QuantizedLayer {
            layer: layer.clone(),
            input_quant,
            output_quant: input_quant,
            target: input_quant,
            weights: vec![],
            weight_scales: vec![],
            bias: vec![],
            lut: vec![],
        };
    }
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
    for (row, &b) in layer.rows().zip(&layer.bias) {
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

/// Calibrates on `calibration` through `f32_file` (the f32 flat file of `layers`), then
/// quantises every layer, each taking its input codes as the layer before left them.
pub fn quantize(
    layers: &[FoldedLayer],
    f32_file: &[u8],
    calibration: &Mnist,
) -> Result<Vec<QuantizedLayer>, CalibrationError> {
    let stats = calibrate(f32_file, calibration)?;
    let mut quant = INPUT_QUANTIZATION;
    let mut quantized = Vec::new();
    for (layer, layer_stats) in layers.iter().zip(&stats) {
        let q = quantize_layer(layer, quant, layer_stats);
        quant = q.output_quant;
        quantized.push(q);
    }
    Ok(quantized)
}
