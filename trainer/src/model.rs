//! The two network families of the codelab: fully-connected stacks and the 3-conv CNN, with
//! optional dropout and batch norm, each a burn `Config` with `init(&device)`. A stage's row in
//! [`crate::stages`] gives its [`NetConfig`]; `metrics.json` records it, so a trained model says
//! what it is.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Initializer, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Distribution, Tensor};

use crate::data::{CLASSES, IMAGE_PIXELS, IMAGE_SIDE};

/// Keras initialises Dense and Conv2D kernels with Glorot-uniform and biases with zeros.
const GLOROT: Initializer = Initializer::XavierUniform { gain: 1.0 };

/// Keras `BatchNormalization(momentum=0.99)` keeps 99% of the running statistics per step;
/// burn's momentum is the weight of the new batch.
pub const BATCH_NORM_MOMENTUM: f64 = 0.01;
/// Keras' default batch-norm epsilon (burn's default is 1e-5). Exports fold with this value.
pub const BATCH_NORM_EPSILON: f64 = 1e-3;

/// A layer's non-linearity: the runtime's own type, so that a network's configuration, its
/// exports and the flat files name it alike (dense stages use Relu or Sigmoid between layers).
pub use runtime_nostd::format::Activation;

/// `activation` applied to `x`.
///
/// # Shapes
/// - x, output: any
fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Identity => x,
        Activation::Relu => relu(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// A fully-connected stack: 784 -> hidden... -> classes (10 for MNIST).
#[derive(Config, Debug, PartialEq)]
pub struct DenseNetConfig {
    /// Widths of the hidden layers; none makes the single softmax layer.
    pub hidden: Vec<usize>,
    /// Non-linearity after each hidden layer.
    pub activation: Activation,
    /// Dropout probability after each hidden layer, if any.
    #[config(default = "None")]
    pub dropout: Option<f64>,
    /// Outputs: the data set's classes.
    #[config(default = "CLASSES")]
    pub classes: usize,
}

/// 784 -> hidden... -> 10, with an optional dropout after each hidden layer.
#[derive(Module, Debug)]
pub struct DenseNet {
    /// Hidden layers then the output layer.
    pub layers: Vec<Linear>,
    #[module(skip)]
    activation: Activation,
    dropout: Option<Dropout>,
}

/// One convolution of a [`ConvNetConfig`]: TF "same" padding, relu after it.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub struct ConvLayerConfig {
    /// Output channels.
    pub filters: usize,
    /// Square kernel side.
    pub kernel: usize,
    /// Stride in both directions.
    pub stride: usize,
}

/// Convolutions, a hidden dense layer, and the 10-way output layer.
#[derive(Config, Debug, PartialEq)]
pub struct ConvNetConfig {
    /// The convolutions, input side first.
    pub convs: Vec<ConvLayerConfig>,
    /// Width of the hidden dense layer.
    pub dense: usize,
    /// Dropout probability after the hidden dense layer, if any.
    #[config(default = "None")]
    pub dropout: Option<f64>,
    /// Batch norm after every hidden layer (which then has no bias).
    #[config(default = false)]
    pub batch_norm: bool,
    /// Outputs: the data set's classes.
    #[config(default = "CLASSES")]
    pub classes: usize,
}

/// One convolution with its optional batch norm; relu follows either way.
#[derive(Module, Debug)]
pub struct ConvBlock {
    /// The convolution (no bias when a batch norm follows).
    pub conv: Conv2d,
    /// Batch norm over the conv's output channels.
    pub norm: Option<BatchNorm>,
}

/// A CNN from a [`ConvNetConfig`]; the codelab's is conv 3x3x12 s1 -> conv 6x6x24 s2 ->
/// conv 6x6x32 s2 -> dense 200 -> 10 ([`ConvNetConfig::codelab`]).
#[derive(Module, Debug)]
pub struct ConvNet {
    /// The convolution blocks.
    pub convs: Vec<ConvBlock>,
    /// The flattened features -> hidden dense layer.
    pub dense: Linear,
    /// Batch norm after the hidden dense layer (batch-norm nets only).
    pub dense_norm: Option<BatchNorm>,
    dropout: Option<Dropout>,
    /// The hidden -> 10 output layer.
    pub output: Linear,
}

/// Either network family: what a stage trains.
#[derive(Config, Debug, PartialEq)]
pub enum NetConfig {
    /// A fully-connected stack.
    Dense(DenseNetConfig),
    /// A CNN.
    Conv(ConvNetConfig),
}

impl NetConfig {
    /// Outputs of the network: the classes it tells apart.
    pub fn classes(&self) -> usize {
        match self {
            NetConfig::Dense(config) => config.classes,
            NetConfig::Conv(config) => config.classes,
        }
    }

    /// The same network with `classes` outputs (the stage table's are MNIST's ten).
    pub fn with_classes(self, classes: usize) -> Self {
        match self {
            NetConfig::Dense(config) => NetConfig::Dense(config.with_classes(classes)),
            NetConfig::Conv(config) => NetConfig::Conv(config.with_classes(classes)),
        }
    }

    /// Multiply-accumulates of one inference: every weight of a dense layer once, every
    /// weight of a convolution once per output position (padding included, as the kernels
    /// compute it). What a microcontroller's time per digit scales with.
    ///
    /// ```
    /// # use trainer::model::{ConvNetConfig, NetConfig};
    /// // 28x28x12 + 14x14x24 + 7x7x32 outputs, then 1568 -> 200 -> 10.
    /// let codelab = NetConfig::Conv(ConvNetConfig::codelab());
    /// let convs = 784 * 12 * 9 + 196 * 24 * 12 * 36 + 49 * 32 * 24 * 36;
    /// assert_eq!(codelab.multiply_accumulates(), convs + 1568 * 200 + 200 * 10);
    /// ```
    pub fn multiply_accumulates(&self) -> usize {
        match self {
            NetConfig::Dense(config) => config.widths().windows(2).map(|w| w[0] * w[1]).sum(),
            NetConfig::Conv(config) => {
                let (convs, features) = config.placed_convs();
                let conv_macs: usize = convs
                    .iter()
                    .map(|c| {
                        let side = c.output_side();
                        side * side * c.layer.filters * c.channels * c.layer.kernel * c.layer.kernel
                    })
                    .sum();
                conv_macs + features * config.dense + config.dense * config.classes
            }
        }
    }

    /// A freshly initialised network (Keras' initialisers: Glorot-uniform kernels, zero biases).
    pub fn init(&self, device: &Device) -> Model {
        match self {
            NetConfig::Dense(config) => Model::Dense(config.init(device)),
            NetConfig::Conv(config) => Model::Conv(config.init(device)),
        }
    }
}

/// Any stage's network. `forward` returns logits; softmax is applied by the loss or the export.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // a handful of models per process, never in collections
pub enum Model {
    /// Fully-connected stages.
    Dense(DenseNet),
    /// Convolutional stages.
    Conv(ConvNet),
}

impl Model {
    /// Logits for images scaled to 0..1; softmax is the loss's or the export's.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, classes]` (10 for MNIST)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        match self {
            Model::Dense(net) => net.forward(images),
            Model::Conv(net) => net.forward(images),
        }
    }

    /// Outputs: the classes the network tells apart.
    pub fn classes(&self) -> usize {
        let output = match self {
            Model::Dense(net) => net.layers.last().map(|l| l.weight.dims()[1]),
            Model::Conv(net) => Some(net.output.weight.dims()[1]),
        };
        output.unwrap_or(0)
    }

    /// Every batch norm, input side first (none in the dense stages).
    pub fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        match self {
            Model::Dense(_) => Vec::new(),
            Model::Conv(net) => {
                let convs = net.convs.iter_mut().filter_map(|b| b.norm.as_mut());
                convs.chain(net.dense_norm.as_mut()).collect()
            }
        }
    }

    /// Number of parameters the optimizer trains (frozen batch-norm gammas excluded, as Keras
    /// counts `scale=False` layers).
    pub fn trainable_params(&self) -> usize {
        let mut counter = TrainableCounter(0);
        self.visit(&mut counter);
        counter.0
    }
}

struct TrainableCounter(usize);

impl burn::module::ModuleVisitor for TrainableCounter {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if param.is_require_grad() {
            self.0 += param.shape().num_elements();
        }
    }
}

/// Symmetric padding that gives TF "same" output size `ceil(size / stride)`, or `None` when TF
/// would pad asymmetrically (then the exports could not express it as explicit pads).
///
/// ```
/// assert_eq!(trainer::model::same_padding(28, 6, 2), Some(2));
/// assert_eq!(trainer::model::same_padding(28, 3, 1), Some(1));
/// ```
pub fn same_padding(size: usize, kernel: usize, stride: usize) -> Option<usize> {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    total.is_multiple_of(2).then_some(total / 2)
}

fn linear(inputs: usize, outputs: usize, bias: bool, device: &Device) -> Linear {
    let mut layer = LinearConfig::new(inputs, outputs)
        .with_bias(false)
        .with_initializer(GLOROT)
        .init(device);
    if bias {
        layer.bias = Some(Initializer::Zeros.init([outputs], device));
    }
    layer
}

/// Keras `BatchNormalization(center=True, scale=False)`: beta trains, gamma stays 1.
fn batch_norm(features: usize, device: &Device) -> BatchNorm {
    let mut norm = BatchNormConfig::new(features)
        .with_momentum(BATCH_NORM_MOMENTUM)
        .with_epsilon(BATCH_NORM_EPSILON)
        .init(device);
    norm.gamma = norm.gamma.set_require_grad(false);
    norm
}

/// The batch norm if the layer has one, then relu (one fused kernel on `flex`).
///
/// # Shapes
/// - x: `[batch, channels, ...]`; output: as x
fn norm_relu<const D: usize>(norm: Option<&BatchNorm>, x: Tensor<D>) -> Tensor<D> {
    match norm {
        Some(norm) => crate::flex_kernels::batch_norm::batch_norm_relu(norm, x),
        None => relu(x),
    }
}

fn dropout(prob: Option<f64>) -> Option<Dropout> {
    prob.map(|p| DropoutConfig::new(p).init())
}

/// burn's dropout with the mask drawn by the CPU backend's generator whatever device `x` is on
/// (then moved there), as `crate::train::train` draws the initial weights: a run on a GPU
/// then sees the same random numbers as the same run on flex, and the two differ only by the
/// kernels' summation order (what `scripts/vulkan-check.sh` compares). On flex this is burn's
/// `Dropout::forward`, draw for draw. Identity outside training (a device without autodiff).
///
/// # Shapes
/// - x, output: `[batch, features]`
fn apply_dropout(dropout: &Dropout, x: Tensor<2>) -> Tensor<2> {
    if !x.device().is_autodiff() || dropout.prob == 0.0 {
        return x;
    }
    let keep = 1.0 - dropout.prob;
    let mask = Tensor::<2>::random(x.shape(), Distribution::Bernoulli(keep), &Device::flex())
        .to_device(&x.device());
    x * mask * (1.0 / keep)
}

impl DenseNetConfig {
    /// Layer widths, input side first: the image's pixels, the hidden widths, the classes.
    fn widths(&self) -> Vec<usize> {
        std::iter::once(IMAGE_PIXELS)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.classes))
            .collect()
    }

    /// The network, freshly initialised on `device`.
    pub fn init(&self, device: &Device) -> DenseNet {
        let layers = self
            .widths()
            .windows(2)
            .map(|w| linear(w[0], w[1], true, device))
            .collect();
        DenseNet {
            layers,
            activation: self.activation,
            dropout: dropout(self.dropout),
        }
    }
}

impl DenseNet {
    /// The hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Logits of flattened images.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images.flatten::<2>(1, 3);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = activate(self.activation, x);
                if let Some(d) = &self.dropout {
                    x = apply_dropout(d, x);
                }
            }
        }
        x
    }
}

/// A convolution of a [`ConvNetConfig`] with what it reads: the sizes its weights and its
/// cost follow from.
struct PlacedConv {
    layer: ConvLayerConfig,
    /// Input channels.
    channels: usize,
    /// Input side (square).
    side: usize,
}

impl PlacedConv {
    /// TF "same" output side.
    fn output_side(&self) -> usize {
        self.side.div_ceil(self.layer.stride)
    }
}

impl ConvNetConfig {
    /// The convolutions with their inputs, input side first, and the features the last one
    /// leaves for the dense layer.
    fn placed_convs(&self) -> (Vec<PlacedConv>, usize) {
        let (mut channels, mut side) = (1, IMAGE_SIDE);
        let mut placed = Vec::new();
        for &layer in &self.convs {
            let conv = PlacedConv {
                layer,
                channels,
                side,
            };
            (channels, side) = (layer.filters, conv.output_side());
            placed.push(conv);
        }
        (placed, channels * side * side)
    }

    /// The codelab CNN's layers (conv 3x3x12 s1, 6x6x24 s2, 6x6x32 s2, dense 200), without
    /// dropout or batch norm.
    pub fn codelab() -> Self {
        let conv = |filters, kernel, stride| ConvLayerConfig {
            filters,
            kernel,
            stride,
        };
        ConvNetConfig::new(vec![conv(12, 3, 1), conv(24, 6, 2), conv(32, 6, 2)], 200)
    }

    /// The network, freshly initialised on `device`.
    ///
    /// # Panics
    /// If a convolution would need TF's asymmetric "same" padding, which the exports cannot
    /// express (none of the stages' does; the stage table's test builds every one).
    pub fn init(&self, device: &Device) -> ConvNet {
        let mut convs = Vec::new();
        let (placed, features) = self.placed_convs();
        for PlacedConv {
            layer,
            channels,
            side,
        } in placed
        {
            let ConvLayerConfig {
                filters,
                kernel,
                stride,
            } = layer;
            let pad = same_padding(side, kernel, stride)
                .expect("the stages' convolutions pad symmetrically");
            let mut conv = Conv2dConfig::new([channels, filters], [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
                .with_bias(false)
                .with_initializer(GLOROT)
                .init(device);
            if !self.batch_norm {
                conv.bias = Some(Initializer::Zeros.init([filters], device));
            }
            convs.push(ConvBlock {
                conv,
                norm: self.batch_norm.then(|| batch_norm(filters, device)),
            });
        }
        ConvNet {
            convs,
            dense: linear(features, self.dense, !self.batch_norm, device),
            dense_norm: self.batch_norm.then(|| batch_norm(self.dense, device)),
            dropout: dropout(self.dropout),
            output: linear(self.dense, self.classes, true, device),
        }
    }
}

impl ConvBlock {
    /// The convolution alone, bias included ([`crate::flex_kernels::conv::conv2d_layer`]: on the `flex` CPU
    /// backend through its own kernels, elsewhere burn's `Conv2d`; the same function).
    ///
    /// # Shapes
    /// - x: `[batch, in, side, side]`
    /// - output: `[batch, filters, side / stride, side / stride]`
    pub fn conv(&self, x: Tensor<4>) -> Tensor<4> {
        crate::flex_kernels::conv::conv2d_layer(&self.conv, x)
    }

    /// Convolution, batch norm if any, relu.
    ///
    /// # Shapes
    /// - x: `[batch, in, side, side]`
    /// - output: `[batch, filters, side / stride, side / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        norm_relu(self.norm.as_ref(), self.conv(x))
    }
}

impl ConvNet {
    /// Logits of images.
    ///
    /// # Shapes
    /// - images: `[batch, 1, 28, 28]`
    /// - after each convolution: `[batch, filters, side, side]`, the side divided by the stride
    /// - output: `[batch, classes]`
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = images;
        for block in &self.convs {
            x = block.forward(x);
        }
        self.head(x.flatten::<2>(1, 3))
    }

    /// Dense layer, its batch norm, relu, dropout and the output layer.
    ///
    /// # Shapes
    /// - features: `[batch, channels * side * side]`, channel-major (NCHW flatten: the order
    ///   the ONNX and flat exports use too)
    /// - output: `[batch, classes]`
    pub fn head(&self, features: Tensor<2>) -> Tensor<2> {
        let mut x = norm_relu(self.dense_norm.as_ref(), self.dense.forward(features));
        if let Some(d) = &self.dropout {
            x = apply_dropout(d, x);
        }
        self.output.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tf_same_padding_is_symmetric_for_the_codelab_convs() {
        assert_eq!(same_padding(28, 3, 1), Some(1));
        assert_eq!(same_padding(28, 6, 2), Some(2));
        assert_eq!(same_padding(14, 6, 2), Some(2));
        // TF pads 5x5 stride 2 on 28 with 1 before and 2 after: not symmetric.
        assert_eq!(same_padding(28, 5, 2), None);
    }

    #[test]
    fn cnn_feature_maps_have_the_codelab_shapes() {
        let device = Device::flex();
        let net = ConvNetConfig::codelab().init(&device);
        let mut x = Tensor::<4>::zeros([2, 1, 28, 28], &device);
        let mut shapes = Vec::new();
        for block in &net.convs {
            x = block.conv.forward(x);
            shapes.push(x.dims());
        }
        assert_eq!(shapes, [[2, 12, 28, 28], [2, 24, 14, 14], [2, 32, 7, 7]]);
        assert_eq!(
            Model::Conv(net)
                .forward(Tensor::zeros([2, 1, 28, 28], &device))
                .dims(),
            [2, 10]
        );
    }
}
