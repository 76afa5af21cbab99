//! The inference view of a trained model: each layer's weights as plain `f32` arrays in the
//! layouts the exports use.

use burn::nn::conv::Conv2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::tensor::Tensor;

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

/// One inference layer.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// 2-D convolution, NCHW, weight `[out, in, k, k]`, symmetric zero padding.
    Conv {
        /// `[out, in, k, k]`.
        weight: Array,
        /// Per output channel, if the layer has one.
        bias: Option<Vec<f32>>,
        /// Same stride on both axes.
        stride: usize,
        /// Zero padding on every side.
        pad: usize,
        /// Batch norm applied to the conv output, before the activation.
        norm: Option<BatchNormParams>,
        /// Non-linearity.
        activation: Activation,
    },
    /// `[N, C, H, W] -> [N, C*H*W]`, channel-major (NCHW) order.
    Flatten,
    /// Fully connected, weight `[in, out]` (`y = x W + b`).
    Dense {
        /// `[in, out]`.
        weight: Array,
        /// Per output, if the layer has one.
        bias: Option<Vec<f32>>,
        /// Batch norm over the outputs, before the activation.
        norm: Option<BatchNormParams>,
        /// Non-linearity.
        activation: Activation,
    },
}

fn bias(bias: &Option<burn::module::Param<Tensor<1>>>) -> Option<Vec<f32>> {
    bias.as_ref().map(|b| Array::of(b.val()).values)
}

fn dense(linear: &Linear, norm: Option<&BatchNorm>, activation: Activation) -> Layer {
    Layer::Dense {
        weight: Array::of(linear.weight.val()),
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
    Layer::Conv {
        weight: Array::of(conv.weight.val()),
        bias: bias(&conv.bias),
        stride: conv.stride[0],
        pad,
        norm: norm.map(BatchNormParams::of),
        activation: Activation::Relu,
    }
}

fn dense_layers(net: &DenseNet) -> Vec<Layer> {
    let hidden = net.activation();
    let last = net.layers.len() - 1;
    std::iter::once(Layer::Flatten)
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
    layers.push(Layer::Flatten);
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
