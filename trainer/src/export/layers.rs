//! The inference view of a trained model, the first step of the export pipeline
//! (layers -> [`fold`](super::fold) -> [`quantize`](super::quantize) -> writers): each layer's
//! weights as plain `f32` arrays in the one layout the whole pipeline uses, ONNX's: activations
//! NCHW, conv weights `[out, in, k, k]`, dense weights `[out, in]` (one row per output channel,
//! inputs in the NCHW flatten order). Writers of another layout convert as they write.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;
use runtime_nostd::format::{ConvGeometry, LayerKind, Shape};

pub use crate::model::Activation;
use crate::model::{ConvNet, DenseNet, Model};

/// A dense array with its dimensions (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values.
    pub values: Vec<f32>,
}

impl Array {
    /// The rows of a 2-D array as columns: `[a, b]` to `[b, a]`.
    pub fn transposed(&self) -> Array {
        let (rows, columns) = (self.dims[0], self.dims[1]);
        let values = (0..columns)
            .flat_map(|c| (0..rows).map(move |r| self.values[r * columns + c]))
            .collect();
        Array {
            dims: vec![columns, rows],
            values,
        }
    }

    /// The values of each output channel (axis 0), in order.
    pub fn rows(&self) -> std::slice::Chunks<'_, f32> {
        let per_row = self.values.len() / self.dims.first().copied().unwrap_or(1).max(1);
        self.values.chunks(per_row.max(1))
    }

    fn of<const D: usize>(tensor: Tensor<D>) -> Array {
        let dims = tensor.dims().to_vec();
        let values = tensor
            .into_data()
            .try_to_vec::<f32>()
            .expect("burn float tensors are f32 on every backend this crate builds");
        Array { dims, values }
    }
}

/// Frozen batch-norm parameters (inference: `(x - mean) / sqrt(var + eps) * gamma + beta`).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormParams {
    /// Scale per channel.
    pub gamma: Vec<f32>,
    /// Shift per channel.
    pub beta: Vec<f32>,
    /// Running mean per channel.
    pub mean: Vec<f32>,
    /// Running variance per channel.
    pub variance: Vec<f32>,
    /// The epsilon the layer trained with.
    pub epsilon: f64,
}

impl BatchNormParams {
    fn of(norm: &BatchNorm) -> Self {
        BatchNormParams {
            gamma: Array::of(norm.gamma.val()).values,
            beta: Array::of(norm.beta.val()).values,
            mean: Array::of(norm.running_mean.value()).values,
            variance: Array::of(norm.running_var.value()).values,
            epsilon: norm.epsilon,
        }
    }
}

/// One inference layer, of any kind, in the runtime's vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// What it computes.
    pub kind: LayerKind,
    /// Kernel, stride and symmetric zero padding (convs), or [`ConvGeometry::NONE`].
    pub geometry: ConvGeometry,
    /// Weights, one row per output channel: conv `[out, in, k, k]`, dense `[out, in]`
    /// (`y = W x + b`); none for a flatten.
    pub weight: Option<Array>,
    /// Per output channel, if the layer has biases.
    pub bias: Option<Vec<f32>>,
    /// Batch norm applied to the output, before the activation.
    pub norm: Option<BatchNormParams>,
    /// Non-linearity.
    pub activation: Activation,
}

impl Layer {
    /// `[N, C, H, W] -> [N, C*H*W]`, channel-major (NCHW) order.
    pub fn flatten() -> Layer {
        Layer {
            kind: LayerKind::Flatten,
            geometry: ConvGeometry::NONE,
            weight: None,
            bias: None,
            norm: None,
            activation: Activation::Identity,
        }
    }

    /// Output channels for an input of `input` shape (the rest of the output shape follows from
    /// the kind and geometry by the format's rule, `runtime_nostd::format::Layer::output_shape`).
    pub fn output_channels(&self, input: Shape) -> usize {
        let rows = self.weight.as_ref().map_or(0, |w| w.dims[0]);
        match self.kind {
            LayerKind::Flatten => input.len(),
            LayerKind::Conv2d | LayerKind::Dense => rows,
        }
    }
}

fn bias(bias: &Option<burn::module::Param<Tensor<1>>>) -> Option<Vec<f32>> {
    bias.as_ref().map(|b| Array::of(b.val()).values)
}

fn dense(linear: &Linear, norm: Option<&BatchNorm>, activation: Activation) -> Layer {
    Layer {
        kind: LayerKind::Dense,
        geometry: ConvGeometry::NONE,
        // burn keeps `[in, out]` (`y = x W`).
        weight: Some(Array::of(linear.weight.val()).transposed()),
        bias: bias(&linear.bias),
        norm: norm.map(BatchNormParams::of),
        activation,
    }
}

fn conv(conv: &Conv2d, norm: Option<&BatchNorm>) -> Layer {
    let pad = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if top == left && top == bottom && top == right =>
        {
            top
        }
        PaddingConfig2d::Valid => 0,
        ref other => panic!("exports need symmetric explicit padding, the model has {other:?}"),
    };
    let weight = Array::of(conv.weight.val());
    Layer {
        kind: LayerKind::Conv2d,
        geometry: ConvGeometry {
            kernel: weight.dims[2],
            stride: conv.stride[0],
            pad,
        },
        weight: Some(weight),
        bias: bias(&conv.bias),
        norm: norm.map(BatchNormParams::of),
        activation: Activation::Relu,
    }
}

fn dense_layers(net: &DenseNet) -> Vec<Layer> {
    let hidden = net.activation();
    let last = net.layers.len() - 1;
    std::iter::once(Layer::flatten())
        .chain(net.layers.iter().enumerate().map(|(i, linear)| {
            dense(
                linear,
                None,
                if i < last {
                    hidden
                } else {
                    Activation::Identity
                },
            )
        }))
        .collect()
}

fn conv_layers(net: &ConvNet) -> Vec<Layer> {
    let mut layers: Vec<Layer> = net
        .convs
        .iter()
        .map(|b| conv(&b.conv, b.norm.as_ref()))
        .collect();
    layers.push(Layer::flatten());
    layers.push(dense(&net.dense, net.dense_norm.as_ref(), Activation::Relu));
    layers.push(dense(&net.output, None, Activation::Identity));
    layers
}

/// The inference layers of `model`, input `[N, 1, 28, 28]` to logits `[N, 10]`.
pub fn inference_layers(model: &Model) -> Vec<Layer> {
    match model {
        Model::Dense(net) => dense_layers(net),
        Model::Conv(net) => conv_layers(net),
    }
}
