//! A parsed model (borrowing its file, zero-copy) and inference with a caller-provided scratch
//! buffer.

use crate::error::{InferError, ParseError};
use crate::format::{
    self, Activation, Header, INPUT_QUANTIZATION, Layer, LayerKind, MAX_LAYERS, Shape, Variant,
};
use crate::kernels::{self, Conv, Requant};
use crate::parallel::Parallel;

/// Bytes the int8 scratch keeps spare so its lanes can start on a word boundary whatever the
/// caller's alignment.
const LANE_ALIGN_SLACK: usize = 3;

/// A validated model, reading its weights in place from the file bytes.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    bytes: &'a [u8],
    header: Header,
    layers: [Option<Layer>; MAX_LAYERS],
}

/// A scratch buffer aligned for f32 activations, sized at compile time.
///
/// ```
/// let mut scratch = runtime_nostd::Scratch::<1024>::new();
/// assert_eq!(scratch.as_mut_bytes().len(), 1024);
/// ```
#[repr(C, align(16))]
pub struct Scratch<const N: usize>([u8; N]);

impl<const N: usize> Scratch<N> {
    /// A zeroed buffer.
    pub const fn new() -> Self {
        Scratch([0; N])
    }

    /// The bytes to pass to [`Model::infer`].
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const N: usize> Default for Scratch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Model<'a> {
    /// Validates every field, size, offset, shape and the CRC of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let header = format::parse_header(bytes)?;
        let mut layers = [None; MAX_LAYERS];
        let mut shape = header.input;
        let mut previous_quant = INPUT_QUANTIZATION;
        for (index, slot) in layers.iter_mut().enumerate().take(header.layer_count) {
            let layer = format::parse_layer(bytes, &header, index, shape)?;
            let chained = layer.input_quant.same_bits(&previous_quant);
            match (header.variant, index) {
                (Variant::Int8, 0) if !chained => return Err(ParseError::InputQuantization),
                (Variant::Int8, _) if !chained => {
                    return Err(ParseError::QuantizationMismatch { layer: index });
                }
                (Variant::Int8 | Variant::F32, _) => {}
            }
            shape = layer.output;
            previous_quant = layer.output_quant;
            *slot = Some(layer);
        }
        if shape.len() != header.classes {
            return Err(ParseError::BadOutput {
                values: shape.len(),
                classes: header.classes,
            });
        }
        Ok(Model {
            bytes,
            header,
            layers,
        })
    }

    /// f32 or int8.
    pub fn variant(&self) -> Variant {
        self.header.variant
    }

    /// The model's input shape (1 x 28 x 28 for MNIST).
    pub fn input_shape(&self) -> Shape {
        self.header.input
    }

    /// Number of output classes.
    pub fn classes(&self) -> usize {
        self.header.classes
    }

    /// The layers, in order.
    pub fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.layers.iter().flatten()
    }

    /// The metadata text (`key=value` lines), validated UTF-8.
    pub fn metadata(&self) -> &'a str {
        core::str::from_utf8(self.header.metadata.of(self.bytes)).unwrap_or_default()
    }

    /// The value of metadata key `key`, if present.
    pub fn metadata_value(&self, key: &str) -> Option<&'a str> {
        self.metadata()
            .lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
    }

    fn largest_activation(&self) -> usize {
        self.layers()
            .map(|l| l.output.len())
            .fold(self.header.input.len(), usize::max)
    }

    fn largest_patch(&self) -> usize {
        self.layers()
            .map(|l| match l.kind {
                LayerKind::Conv2d => kernels::patch_len(&conv(l, &[], &[])),
                LayerKind::Dense | LayerKind::Flatten => 0,
            })
            .fold(0, usize::max)
    }

    /// Words of widened int8 lanes the largest layer needs (see `kernels::arm_dsp`).
    fn largest_lanes(&self) -> usize {
        self.layers()
            .map(|l| match l.kind {
                LayerKind::Conv2d => kernels::conv_lane_words(&conv(l, &[], &[])),
                LayerKind::Dense => kernels::dense_lane_words(l.input.len()),
                LayerKind::Flatten => 0,
            })
            .fold(0, usize::max)
    }

    /// Exact size in bytes of the scratch buffer [`infer`](Self::infer) needs: two activation
    /// buffers of the largest activation and one convolution patch; for int8 models also the
    /// widened lanes of the DSP kernels (4-byte words, 3 bytes of slack to align them), on every
    /// target alike. (Parsing bounds each activation by 2^20 values and each patch by the
    /// weights it multiplies, which lie in the file, so the sum cannot overflow; it saturates
    /// all the same.)
    pub fn scratch_bytes(&self) -> usize {
        let activations = self.largest_activation().saturating_mul(2);
        match self.variant() {
            Variant::F32 => activations
                .saturating_add(self.largest_patch())
                .saturating_mul(4),
            Variant::Int8 => activations
                .saturating_add(self.largest_patch())
                .saturating_add(self.largest_lanes().saturating_mul(4))
                .saturating_add(LANE_ALIGN_SLACK),
        }
    }

    /// Exact size in bytes of the second scratch buffer [`infer_parallel`](Self::infer_parallel)
    /// needs for the other half of each layer: one patch and its widened lanes (4-byte
    /// words, 3 bytes of slack to align them) for int8 models; none for f32 models, which run
    /// on the caller's core.
    pub fn helper_scratch_bytes(&self) -> usize {
        match self.variant() {
            Variant::F32 => 0,
            Variant::Int8 => self
                .largest_patch()
                .saturating_add(self.largest_lanes().saturating_mul(4))
                .saturating_add(LANE_ALIGN_SLACK),
        }
    }

    fn section(&self, s: format::Section) -> &'a [u8] {
        s.of(self.bytes)
    }

    /// Classifies `image` (one byte per input value, 0..=255, scaled by 1/256 as in training),
    /// writes softmax probabilities into `probabilities` and returns the predicted class.
    /// `scratch` must hold [`scratch_bytes`](Self::scratch_bytes) bytes, 4-byte aligned for
    /// f32 models (see [`Scratch`]).
    pub fn infer(
        &self,
        image: &[u8],
        scratch: &mut [u8],
        probabilities: &mut [f32],
    ) -> Result<usize, InferError> {
        self.infer_observed(image, scratch, probabilities, &mut |_, _| {})
    }

    /// Like [`infer`](Self::infer), with each int8 layer split into two halves (a convolution's
    /// output pixels, a dense layer's neurons) that `parallel` runs at once where it can (a
    /// board's second core): the other half with `helper_scratch`
    /// ([`helper_scratch_bytes`](Self::helper_scratch_bytes) bytes). The same answer and probabilities as [`infer`](Self::infer), bit for bit; f32
    /// models run as there.
    pub fn infer_parallel(
        &self,
        image: &[u8],
        scratch: &mut [u8],
        helper_scratch: &mut [u8],
        probabilities: &mut [f32],
        parallel: &mut dyn Parallel,
    ) -> Result<usize, InferError> {
        let needed = self.helper_scratch_bytes();
        let given = helper_scratch.len();
        let helper_scratch = helper_scratch
            .get_mut(..needed)
            .ok_or(InferError::HelperScratchTooSmall { given, needed })?;
        let (patch, rest) = helper_scratch.split_at_mut(self.largest_patch().min(needed));
        let helper = Helper {
            patch: bytemuck::cast_slice_mut::<u8, i8>(patch),
            lanes: bytemuck::pod_align_to_mut::<u8, u32>(rest).1,
            parallel,
        };
        self.infer_with(image, scratch, probabilities, &mut |_, _| {}, Some(helper))
    }

    /// Like [`infer`](Self::infer), and for f32 models also hands every layer's output to
    /// `observe(layer_index, values)` (int8 calibration uses it).
    pub fn infer_observed(
        &self,
        image: &[u8],
        scratch: &mut [u8],
        probabilities: &mut [f32],
        observe: &mut dyn FnMut(usize, &[f32]),
    ) -> Result<usize, InferError> {
        self.infer_with(image, scratch, probabilities, observe, None)
    }

    /// The checks of every inference call, then the layers, int8 convolutions split with
    /// `helper` when there is one.
    fn infer_with(
        &self,
        image: &[u8],
        scratch: &mut [u8],
        probabilities: &mut [f32],
        observe: &mut dyn FnMut(usize, &[f32]),
        helper: Option<Helper<'_>>,
    ) -> Result<usize, InferError> {
        let expected = self.header.input.len();
        if image.len() != expected {
            return Err(InferError::InputSize {
                given: image.len(),
                expected,
            });
        }
        if probabilities.len() != self.classes() {
            return Err(InferError::OutputSize {
                given: probabilities.len(),
                expected: self.classes(),
            });
        }
        let needed = self.scratch_bytes();
        let given = scratch.len();
        let scratch = scratch
            .get_mut(..needed)
            .ok_or(InferError::ScratchTooSmall { given, needed })?;
        match self.variant() {
            Variant::F32 => {
                let values = bytemuck::try_cast_slice_mut::<u8, f32>(scratch)
                    .map_err(|_| InferError::ScratchMisaligned)?;
                Ok(self.run_f32(image, values, probabilities, observe))
            }
            Variant::Int8 => {
                let values = 2 * self.largest_activation() + self.largest_patch();
                let (codes, rest) = scratch.split_at_mut(values.min(scratch.len()));
                let lanes = bytemuck::pod_align_to_mut::<u8, u32>(rest).1;
                let codes = bytemuck::cast_slice_mut::<u8, i8>(codes);
                Ok(self.run_i8(image, codes, lanes, probabilities, helper))
            }
        }
    }

    fn run_f32(
        &self,
        image: &[u8],
        scratch: &mut [f32],
        probabilities: &mut [f32],
        observe: &mut dyn FnMut(usize, &[f32]),
    ) -> usize {
        let (mut current, mut next, patch) = split_scratch(scratch, self.largest_activation());
        for (x, p) in current.iter_mut().zip(to_hwc(image, self.header.input)) {
            *x = f32::from(p) * (1.0 / 256.0);
        }
        for (index, layer) in self.layers().enumerate() {
            let input = current.get(..layer.input.len()).unwrap_or_default();
            let output = next.get_mut(..layer.output.len()).unwrap_or_default();
            let (weights, bias) = (
                self.section(layer.payload.weights),
                self.section(layer.payload.bias),
            );
            match layer.kind {
                LayerKind::Flatten => {
                    observe(index, input);
                    continue;
                }
                LayerKind::Conv2d => kernels::conv2d_f32(
                    &conv(layer, weights, bias),
                    layer.activation,
                    input,
                    patch,
                    output,
                ),
                LayerKind::Dense => {
                    kernels::dense_f32(input, weights, bias, layer.activation, output)
                }
            }
            observe(index, output);
            core::mem::swap(&mut current, &mut next);
        }
        let logits = current.get(..self.classes()).unwrap_or_default();
        softmax(logits.iter().copied(), probabilities)
    }

    fn run_i8(
        &self,
        image: &[u8],
        scratch: &mut [i8],
        lanes: &mut [u32],
        probabilities: &mut [f32],
        mut helper: Option<Helper<'_>>,
    ) -> usize {
        let (mut current, mut next, patch) = split_scratch(scratch, self.largest_activation());
        let shape = self.header.input;
        let quantize_row = |y: usize, row: &mut [i8]| quantize_row(image, shape, y, row);
        // A first convolution's padding written out around the image's codes where the buffer
        // has room (its code is pixel 0's, real 0): no border pixels for the kernels to take
        // apart, which the arch kernels do value by value when a layer's channels are not in
        // fours.
        let first_padded = self
            .layers()
            .next()
            .filter(|layer| layer.kind == LayerKind::Conv2d)
            .and_then(|layer| {
                let padded = conv(layer, &[], &[]).over_padded_input()?;
                let (pad, zero) = (layer.geometry.pad, pixel_code(0));
                kernels::write_padded(quantize_row, shape, pad, zero, current)?;
                Some(padded.input)
            });
        if first_padded.is_none() {
            let rows = current.chunks_exact_mut((shape.width * shape.channels).max(1));
            rows.take(shape.height)
                .enumerate()
                .for_each(|(y, row)| quantize_row(y, row));
        }
        let mut out_quant = INPUT_QUANTIZATION;
        for (index, layer) in self.layers().enumerate() {
            let input_len = match first_padded {
                Some(padded) if index == 0 => padded.len(),
                _ => layer.input.len(),
            };
            let input = current.get(..input_len).unwrap_or_default();
            let output = next.get_mut(..layer.output.len()).unwrap_or_default();
            let requant = requant(
                layer,
                self.section(layer.payload.requant),
                self.section(layer.payload.lut),
            );
            let (weights, bias) = (
                self.section(layer.payload.weights),
                self.section(layer.payload.bias),
            );
            match layer.kind {
                LayerKind::Flatten => continue,
                LayerKind::Conv2d => {
                    let conv = conv(layer, weights, bias);
                    let conv = match first_padded {
                        Some(_) if index == 0 => conv.over_padded_input().unwrap_or(conv),
                        _ => conv,
                    };
                    match helper.as_mut() {
                        Some(helper) => {
                            helper.conv2d_i8(&conv, &requant, input, patch, lanes, output)
                        }
                        None => kernels::conv2d_i8(&conv, &requant, input, patch, lanes, output),
                    }
                }
                LayerKind::Dense => match helper.as_mut() {
                    Some(helper) => helper.dense_i8(input, weights, bias, &requant, lanes, output),
                    None => kernels::dense_i8(input, weights, bias, &requant, lanes, output),
                },
            }
            out_quant = layer.output_quant;
            core::mem::swap(&mut current, &mut next);
        }
        let logits = current.get(..self.classes()).unwrap_or_default();
        let dequantize = |&c: &i8| out_quant.scale * (i32::from(c) - out_quant.zero_point) as f32;
        softmax(logits.iter().map(dequantize), probabilities)
    }
}

/// The other core's half of each int8 layer: its patch and lanes, and what runs it.
struct Helper<'h> {
    patch: &'h mut [i8],
    lanes: &'h mut [u32],
    parallel: &'h mut dyn Parallel,
}

impl Helper<'_> {
    /// `conv` split at a whole quad of pixels near its middle (the arch kernels take pixels
    /// four at a time): the first half on the caller's core with `patch` and `lanes`, the
    /// second through `parallel` with the helper's.
    fn conv2d_i8(
        &mut self,
        conv: &Conv<'_>,
        requant: &Requant<'_>,
        input: &[i8],
        patch: &mut [i8],
        lanes: &mut [u32],
        output: &mut [i8],
    ) {
        let pixels = conv.pixels();
        let split = (pixels.end / 2)
            .next_multiple_of(kernels::QUAD)
            .min(pixels.end);
        let at = split.saturating_mul(conv.output.channels).min(output.len());
        let (first, second) = output.split_at_mut(at);
        let (helper_patch, helper_lanes) = (&mut *self.patch, &mut *self.lanes);
        self.parallel.join(
            &mut || {
                let part = split..pixels.end;
                kernels::conv2d_i8_part(
                    conv,
                    requant,
                    input,
                    helper_patch,
                    helper_lanes,
                    second,
                    part,
                );
            },
            &mut || kernels::conv2d_i8_part(conv, requant, input, patch, lanes, first, 0..split),
        );
    }

    /// A dense layer split at a whole group of neurons near its middle
    /// ([`kernels::DENSE_ROWS`]), the first part on the caller's core with `lanes`, the second
    /// through `parallel` with the helper's lanes (each part widens the input into its own).
    fn dense_i8(
        &mut self,
        input: &[i8],
        weights: &[u8],
        bias: &[u8],
        requant: &Requant<'_>,
        lanes: &mut [u32],
        output: &mut [i8],
    ) {
        let neurons = output.len();
        let split = (neurons / 2)
            .next_multiple_of(kernels::DENSE_ROWS)
            .min(neurons);
        let (first, second) = output.split_at_mut(split);
        let helper_lanes = &mut *self.lanes;
        self.parallel.join(
            &mut || {
                let part = split..neurons;
                kernels::dense_i8_part(input, weights, bias, requant, helper_lanes, second, part);
            },
            &mut || kernels::dense_i8_part(input, weights, bias, requant, lanes, first, 0..split),
        );
    }
}

/// Splits the scratch into two activation buffers of `activation` values and the conv patch.
fn split_scratch<T>(scratch: &mut [T], activation: usize) -> (&mut [T], &mut [T], &mut [T]) {
    let (current, rest) = scratch.split_at_mut(activation.min(scratch.len()));
    let (next, patch) = rest.split_at_mut(activation.min(rest.len()));
    (current, next, patch)
}

fn conv<'a>(layer: &Layer, weights: &'a [u8], bias: &'a [u8]) -> Conv<'a> {
    Conv {
        input: layer.input,
        output: layer.output,
        geometry: layer.geometry,
        weights,
        bias,
    }
}

/// The requantisation of an int8 layer (its quantisations were validated at parse: the zero
/// points are int8 codes).
fn requant<'a>(layer: &Layer, table: &'a [u8], lut: &'a [u8]) -> Requant<'a> {
    let code = |zero_point: i32| zero_point.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8;
    let (output_zero, relu) = match layer.activation {
        Activation::Sigmoid => (format::SIGMOID_INPUT_ZERO_POINT, false),
        Activation::Relu => (layer.output_quant.zero_point, true),
        Activation::Identity => (layer.output_quant.zero_point, false),
    };
    Requant::new(
        table,
        code(layer.input_quant.zero_point),
        code(output_zero),
        relu,
        lut,
    )
}

/// The image bytes (CHW, as stored in MNIST and ONNX) in HWC order.
/// The image bytes (CHW, as stored in MNIST and ONNX) in HWC order.
fn to_hwc(image: &[u8], shape: Shape) -> impl Iterator<Item = u8> + '_ {
    let plane = shape.height * shape.width;
    (0..plane).flat_map(move |pixel| {
        (0..shape.channels).map(move |c| image.get(c * plane + pixel).copied().unwrap_or(0))
    })
}

/// Parsing made the first layer take INPUT_QUANTIZATION (scale 1/256), so a pixel's code is
/// the pixel plus the zero point, exactly, in integers.
fn pixel_code(pixel: u8) -> i8 {
    let code = i32::from(pixel).saturating_add(INPUT_QUANTIZATION.zero_point);
    code.clamp(i32::from(i8::MIN), i32::from(i8::MAX)) as i8
}

/// Row `y` of the codes of `image` (CHW, as stored in MNIST and ONNX) in HWC order.
fn quantize_row(image: &[u8], shape: Shape, y: usize, row: &mut [i8]) {
    let (plane, start) = (shape.height * shape.width, y * shape.width);
    if shape.channels == 1 {
        let pixels = image.get(start..start + shape.width).unwrap_or_default();
        row.iter_mut()
            .zip(pixels)
            .for_each(|(code, &p)| *code = pixel_code(p));
        return;
    }
    for (x, codes) in row.chunks_exact_mut(shape.channels).enumerate() {
        for (c, code) in codes.iter_mut().enumerate() {
            let pixel = image.get(c * plane + start + x).copied().unwrap_or(0);
            *code = pixel_code(pixel);
        }
    }
}

/// Softmax of `logits` into `out`; returns the argmax (the first on ties).
fn softmax(logits: impl Iterator<Item = f32> + Clone, out: &mut [f32]) -> usize {
    let (mut best, mut max) = (0, f32::NEG_INFINITY);
    for (i, v) in logits.clone().enumerate() {
        if v > max {
            (best, max) = (i, v);
        }
    }
    let mut sum = 0.0;
    for (o, v) in out.iter_mut().zip(logits) {
        *o = libm::expf(v - max);
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
    best
}
