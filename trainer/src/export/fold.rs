//! The second step of the export pipeline: batch norm folded into the weights and biases of the
//! layer before it, and every layer's shapes worked out, in the pipeline's one layout (see
//! [`layers`](super::layers)). The f32 flat file is written from this, and [`quantize`](super::quantize)
//! quantises it.

use runtime_nostd::LayerFault;
use runtime_nostd::format::{
    ConvGeometry, Layer as FlatLayer, LayerKind, NO_QUANTIZATION, Payload, Shape,
};

use super::layers::{Activation, BatchNormParams, Layer};
use crate::data::IMAGE_SIDE;

/// A layer after batch-norm folding.
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
    /// Weights, one row per output channel: conv `[out, in, k, k]`, dense `[out, in]` over the
    /// NCHW flatten order.
    pub weights: Vec<f32>,
    /// One bias per output channel.
    pub bias: Vec<f32>,
}

impl FoldedLayer {
    /// The weights of each output channel, in order.
    pub fn rows(&self) -> std::slice::Chunks<'_, f32> {
        self.weights.chunks(self.weights_per_output().max(1))
    }

    /// Weights per output channel (0 for a flatten).
    pub fn weights_per_output(&self) -> usize {
        self.weights.len() / self.bias.len().max(1)
    }
}

/// The network's input: one 28x28 channel.
pub fn input_shape() -> Shape {
    Shape {
        channels: 1,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
    }
}

/// The classes of a network whose last layer is `last`: its outputs.
pub fn classes(last: Option<&FoldedLayer>) -> usize {
    last.map_or(0, |l| l.output.channels)
}

/// Folds inference batch norm `y = (x - mean) / sqrt(var + eps) * gamma + beta` into the rows of
/// a layer whose output channel `c` is `rows[c] . x + bias[c]`.
///
/// ```
/// use trainer::export::fold::fold_batch_norm;
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

/// A layer whose shapes the flat format cannot hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldError {
    /// Its index in the inference layers.
    pub layer: usize,
    /// The format's rule it breaks.
    pub fault: LayerFault,
}

impl std::fmt::Display for FoldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "layer {}: {}", self.layer, self.fault)
    }
}

impl std::error::Error for FoldError {}

/// Folds batch norm and works out shapes (by the format's own rule, `Layer::output_shape`);
/// `Layer`s come from [`inference_layers`](super::layers::inference_layers).
pub fn fold_layers(layers: &[Layer]) -> Result<Vec<FoldedLayer>, FoldError> {
    let mut shape = input_shape();
    let mut folded = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        let output_channels = layer.output_channels(shape);
        let record: FlatLayer<Vec<u8>> = FlatLayer {
            kind: layer.kind,
            activation: layer.activation,
            geometry: layer.geometry,
            input: shape,
            output: Shape::vector(output_channels),
            payload: Payload::default(),
            input_quant: NO_QUANTIZATION,
            output_quant: NO_QUANTIZATION,
        };
        let output = record.output_shape().map_err(|fault| FoldError {
            layer: index,
            fault,
        })?;
        let weights = layer.weight.as_ref().map_or(vec![], |w| w.values.clone());
        let bias = match (&layer.weight, &layer.bias) {
            (_, Some(bias)) => bias.clone(),
            (Some(_), None) => vec![0.0; output_channels],
            (None, None) => vec![],
        };
        let (weights, bias) = match &layer.norm {
            Some(n) => fold_batch_norm(&weights, &bias, n),
            None => (weights, bias),
        };
        folded.push(FoldedLayer {
            kind: layer.kind,
            activation: layer.activation,
            geometry: layer.geometry,
            input: shape,
            output,
            weights,
            bias,
        });
        shape = output;
    }
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::layers::Array;

    fn conv(kernel: usize, pad: usize) -> Layer {
        Layer {
            kind: LayerKind::Conv2d,
            geometry: ConvGeometry {
                kernel,
                stride: 1,
                pad,
            },
            weight: Some(Array {
                dims: vec![2, 1, kernel, kernel],
                values: vec![0.5; 2 * kernel * kernel],
            }),
            bias: None,
            norm: None,
            activation: Activation::Relu,
        }
    }

    #[test]
    fn shapes_follow_the_format_rule_and_missing_biases_are_zero() {
        let dense = Layer {
            kind: LayerKind::Dense,
            geometry: ConvGeometry::NONE,
            weight: Some(Array {
                dims: vec![3, 2 * 26 * 26],
                values: vec![1.0; 3 * 2 * 26 * 26],
            }),
            bias: Some(vec![1.0, 2.0, 3.0]),
            norm: None,
            activation: Activation::Identity,
        };
        let folded = fold_layers(&[conv(3, 0), Layer::flatten(), dense]).unwrap();
        let shapes: Vec<(usize, usize, usize)> = folded
            .iter()
            .map(|l| (l.output.channels, l.output.height, l.output.width))
            .collect();
        assert_eq!(shapes, [(2, 26, 26), (2 * 26 * 26, 1, 1), (3, 1, 1)]);
        assert_eq!(folded[0].bias, [0.0, 0.0]);
        assert!(folded[1].weights.is_empty() && folded[1].bias.is_empty());
        assert_eq!(folded[2].bias, [1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_convolution_wider_than_its_input_is_an_error_naming_the_layer() {
        let error = fold_layers(&[conv(3, 1), conv(40, 0)]).unwrap_err();
        assert_eq!(
            error,
            FoldError {
                layer: 1,
                fault: LayerFault::ConvGeometry
            }
        );
        assert!(error.to_string().starts_with("layer 1: "), "{error}");
    }
}
