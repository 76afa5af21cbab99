//! The flat-file writer, the last step of the export pipeline for the microcontroller: the
//! folded layers as an f32 flat file and the quantised ones as an int8 flat file (see
//! `runtime-nostd/FORMAT.md`), written with `runtime_nostd::write`, the same definitions the
//! reader parses. The format's own choices are made here and nowhere else: its layouts
//! (activations HWC, conv weights OHWI, dense rows over the HWC order of what a flatten
//! flattened), input zero points folded into the int32 biases, fixed-point requantisation.

use runtime_nostd::format::{
    Layer as FlatLayer, LayerKind, NO_QUANTIZATION, Payload, Quantization, Shape, Variant,
};
use runtime_nostd::kernels::quantize_multiplier;
use runtime_nostd::write::{LayerSpec, WriteError, f32_bytes, i32_bytes, write_model};

use super::fold::{FoldedLayer, classes, input_shape};
use super::quantize::QuantizedLayer;

/// Where a layer's weights go in the flat file: its weight `j` is the weight `order[j]` of
/// [`FoldedLayer::weights`]. `flattened` is what the flatten before a dense layer flattened (its
/// inputs come in that shape's NCHW order and the runtime's are HWC), `None` after a dense layer.
pub fn flat_order(layer: &FoldedLayer, flattened: Option<Shape>) -> Vec<usize> {
    let outputs = layer.output.channels;
    let mut order = Vec::with_capacity(layer.weights.len());
    match layer.kind {
        LayerKind::Flatten => {}
        // `[out, in, k, k]` to `[out][k][k][in]`.
        LayerKind::Conv2d => {
            let (inputs, k) = (layer.input.channels, layer.geometry.kernel);
            for o in 0..outputs {
                for y in 0..k {
                    for x in 0..k {
                        order.extend((0..inputs).map(|i| ((o * inputs + i) * k + y) * k + x));
                    }
                }
            }
        }
        // Rows over CHW to rows over HWC.
        LayerKind::Dense => {
            let inputs = layer.weights_per_output();
            let source = flattened.unwrap_or(Shape {
                channels: inputs,
                height: 1,
                width: 1,
            });
            let plane = source.height * source.width;
            for o in 0..outputs {
                for p in 0..plane {
                    order.extend((0..source.channels).map(|c| o * inputs + c * plane + p));
                }
            }
        }
    }
    order
}

fn permuted<T: Copy>(values: &[T], order: &[usize]) -> Vec<T> {
    order.iter().map(|&i| values[i]).collect()
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

/// Each layer with what the flatten before it flattened, if it follows one.
fn after_flattens<'a, T>(
    layers: &'a [T],
    layer: impl Fn(&T) -> &FoldedLayer + 'a,
) -> impl Iterator<Item = (&'a T, Option<Shape>)> + 'a {
    let mut previous: Option<Shape> = None;
    layers.iter().map(move |item| {
        let l = layer(item);
        let flattened = previous.take();
        if l.kind == LayerKind::Flatten {
            previous = Some(l.input);
        }
        (item, flattened)
    })
}

/// The f32 flat file of the folded layers.
pub fn write_f32(
    layers: &[FoldedLayer],
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, WriteError> {
    let specs: Vec<LayerSpec> = after_flattens(layers, |l| l)
        .map(|(l, flattened)| {
            let order = flat_order(l, flattened);
            let payload = Payload {
                weights: f32_bytes(&permuted(&l.weights, &order)),
                bias: f32_bytes(&l.bias),
                ..Payload::default()
            };
            spec(l, payload, (NO_QUANTIZATION, NO_QUANTIZATION))
        })
        .collect();
    write_model(
        Variant::F32,
        input_shape(),
        classes(layers.last()),
        metadata,
        &specs,
    )
}

/// The flat file's record of a quantised layer: the runtime sums `x * w` over raw input codes,
/// so `-z_in * sum(w)` is folded into the bias, and the requantisation is fixed point.
fn int8_spec(q: &QuantizedLayer, flattened: Option<Shape>) -> LayerSpec {
    let mut bias = Vec::with_capacity(q.bias.len());
    let mut requant = Vec::with_capacity(2 * q.bias.len());
    for ((row, &code), &weight_scale) in q.rows().zip(&q.bias).zip(&q.weight_scales) {
        let code_sum: i64 = row.iter().map(|&c| i64::from(c)).sum();
        let effective = i64::from(code) - i64::from(q.input_quant.zero_point) * code_sum;
        bias.push(effective.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32);
        let bias_scale = f64::from(q.input_quant.scale) * weight_scale;
        let (multiplier, shift) = quantize_multiplier(bias_scale / f64::from(q.target.scale));
        requant.extend([multiplier, shift]);
    }
    let order = flat_order(&q.layer, flattened);
    let payload = Payload {
        weights: permuted(&q.weights, &order)
            .into_iter()
            .map(|c| c as u8)
            .collect(),
        bias: i32_bytes(&bias),
        requant: i32_bytes(&requant),
        lut: q.lut.clone(),
    };
    spec(&q.layer, payload, (q.input_quant, q.output_quant))
}

/// The int8 flat file of quantised layers.
pub fn write_int8(
    layers: &[QuantizedLayer],
    metadata: &[(&str, String)],
) -> Result<Vec<u8>, WriteError> {
    let specs: Vec<LayerSpec> = after_flattens(layers, |q| &q.layer)
        .map(|(q, flattened)| int8_spec(q, flattened))
        .collect();
    write_model(
        Variant::Int8,
        input_shape(),
        classes(layers.last().map(|q| &q.layer)),
        metadata,
        &specs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_nostd::format::ConvGeometry;

    use crate::export::layers::Activation;

    fn layer(kind: LayerKind, input: Shape, output: Shape, kernel: usize) -> FoldedLayer {
        let per_output = match kind {
            LayerKind::Conv2d => input.channels * kernel * kernel,
            LayerKind::Dense | LayerKind::Flatten => input.len(),
        };
        FoldedLayer {
            kind,
            activation: Activation::Identity,
            geometry: ConvGeometry {
                kernel,
                stride: 1,
                pad: 0,
            },
            input,
            output,
            weights: (0..output.channels * per_output)
                .map(|i| i as f32)
                .collect(),
            bias: vec![0.0; output.channels],
        }
    }

    fn shape(channels: usize, height: usize, width: usize) -> Shape {
        Shape {
            channels,
            height,
            width,
        }
    }

    #[test]
    fn conv_weights_go_from_oihw_to_ohwi() {
        let (out, input, k) = (2, 3, 2);
        let conv = layer(LayerKind::Conv2d, shape(input, 4, 4), shape(out, 3, 3), k);
        let order = flat_order(&conv, None);
        let oihw = |o: usize, i: usize, y: usize, x: usize| ((o * input + i) * k + y) * k + x;
        let ohwi = |o: usize, y: usize, x: usize, i: usize| ((o * k + y) * k + x) * input + i;
        for (o, i, y, x) in [(0, 0, 0, 0), (1, 2, 1, 0), (0, 1, 0, 1), (1, 0, 1, 1)] {
            assert_eq!(order[ohwi(o, y, x, i)], oihw(o, i, y, x), "{o} {i} {y} {x}");
        }
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..conv.weights.len()).collect::<Vec<_>>());
    }

    #[test]
    fn dense_rows_after_a_flatten_go_from_chw_to_hwc_and_stay_put_otherwise() {
        let source = shape(3, 2, 2);
        let dense = layer(LayerKind::Dense, shape(12, 1, 1), shape(2, 1, 1), 0);
        let order = flat_order(&dense, Some(source));
        // Output 1's input at (y 1, x 0) of channel 2: CHW 2 * 4 + 2 = 10, HWC 2 * 3 + 2 = 8.
        assert_eq!(order[12 + 8], 12 + 10);
        let direct = flat_order(&dense, None);
        assert_eq!(direct, (0..24).collect::<Vec<_>>());
    }
}
