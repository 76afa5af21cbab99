//! The ONNX writers (IR 8, opset 17, encoded by [`proto`]): the float file from the inference
//! layers ([`layers`](super::layers)), the int8 twin from the quantised ones
//! ([`quantize`](super::quantize)), both in the pipeline's layout, which is ONNX's.
//!
//! Input `image`: float32 `[N, 1, 28, 28]` (pixels / 256, N symbolic). Outputs `probabilities`
//! (Softmax over axis 1) and `logits`, both `[N, 10]`. Batch norm stays a
//! `BatchNormalization` node with the trained statistics and epsilon; dropout is gone; conv
//! padding is explicit and symmetric; dense layers are `Gemm`.

pub mod proto;

use runtime_nostd::format::{INPUT_QUANTIZATION, Quantization};

use super::fold::classes;
use super::layers::{Activation, Array, BatchNormParams, Layer};
use super::quantize::QuantizedLayer;
use crate::data::IMAGE_SIDE;
use proto::{Attribute, AttributeValue, DataType, Dim, Graph, Model, Node, Tensor, ValueInfo};
use runtime_nostd::format::LayerKind;

/// ONNX IR version written (ONNX Runtime >= 1.10 and tract read it).
pub const IR_VERSION: i64 = 8;
/// Default-domain opset written. 17, not 13: `onnx.reference.ReferenceEvaluator` (the standard's
/// own implementation) computes BatchNormalization wrongly before version 14, so a file at 13
/// "fails" there; ONNX Runtime, tract, burn-onnx and OpenCV read 17 as well.
pub const OPSET: i64 = 17;
/// Name of the graph input.
pub const INPUT: &str = "image";
/// Name of the softmax output.
pub const PROBABILITIES: &str = "probabilities";
/// Name of the logits output.
pub const LOGITS: &str = "logits";
/// How inputs must be prepared, recorded in the model metadata.
pub const NORMALISATION: &str =
    "float32 NCHW [N,1,28,28], MNIST layout (white digit on black), pixel value / 256";

/// What the file says about where it came from (`metadata_props`).
#[derive(Debug, Clone)]
pub struct Provenance {
    /// Stage name.
    pub stage: String,
    /// Test accuracy of these weights.
    pub test_accuracy: f64,
    /// The command that trained them.
    pub training_command: String,
}

fn attribute(name: &str, value: AttributeValue) -> Attribute {
    Attribute {
        name: name.into(),
        value,
    }
}

fn ints(name: &str, values: &[i64]) -> Attribute {
    attribute(name, AttributeValue::Ints(values.to_vec()))
}

fn int(name: &str, value: i64) -> Attribute {
    attribute(name, AttributeValue::Int(value))
}

fn float(name: &str, value: f32) -> Attribute {
    attribute(name, AttributeValue::Float(value))
}

/// A float tensor's name and shape, `None` for the batch dimension (`N`).
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfo {
    ValueInfo {
        name: name.into(),
        elem_type: DataType::Float,
        dims: dims
            .iter()
            .map(|d| d.map_or_else(|| Dim::Symbolic("N".into()), Dim::Fixed))
            .collect(),
    }
}

/// Little-endian bytes of `values`, ONNX's `raw_data`.
fn le_bytes<const N: usize, T: Copy>(values: &[T], to_le: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_le(v)).collect()
}

/// Builds the graph node by node, naming intermediate values `<op>_<n>`.
struct GraphBuilder {
    graph: Graph,
    last: String,
}

impl GraphBuilder {
    fn initializer(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        let raw_data = le_bytes(values, f32::to_le_bytes);
        self.raw_initializer(name, dims, DataType::Float, raw_data)
    }

    fn array(&mut self, name: String, array: &Array) -> String {
        self.initializer(name, &array.dims, &array.values)
    }

    fn vector(&mut self, name: String, values: &[f32]) -> String {
        self.initializer(name, &[values.len()], values)
    }

    /// An initializer of another element type, from its little-endian bytes.
    fn raw_initializer(
        &mut self,
        name: String,
        dims: &[usize],
        data_type: DataType,
        raw_data: Vec<u8>,
    ) -> String {
        self.graph.initializers.push(Tensor {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            raw_data,
        });
        name
    }

    /// Appends `op` on `inputs`, returning its output's name; the last value stays as it was.
    fn op(
        &mut self,
        op: &str,
        inputs: Vec<String>,
        attributes: Vec<Attribute>,
        output: Option<&str>,
    ) -> String {
        let index = self.graph.nodes.len();
        let output =
            output.map_or_else(|| format!("{}_{index}", op.to_lowercase()), str::to_string);
        self.graph.nodes.push(Node {
            name: format!("{op}_{index}"),
            op_type: op.into(),
            inputs,
            outputs: vec![output.clone()],
            attributes,
        });
        output
    }

    /// Appends `op` reading the previous value plus `extra` inputs; its output becomes the last.
    fn node(
        &mut self,
        op: &str,
        extra: Vec<String>,
        attributes: Vec<Attribute>,
        output: Option<&str>,
    ) {
        let mut inputs = vec![self.last.clone()];
        inputs.extend(extra);
        self.last = self.op(op, inputs, attributes, output);
    }

    fn batch_norm(&mut self, prefix: &str, norm: &BatchNormParams) {
        let inputs = vec![
            self.vector(format!("{prefix}.bn.gamma"), &norm.gamma),
            self.vector(format!("{prefix}.bn.beta"), &norm.beta),
            self.vector(format!("{prefix}.bn.mean"), &norm.mean),
            self.vector(format!("{prefix}.bn.variance"), &norm.variance),
        ];
        self.node(
            "BatchNormalization",
            inputs,
            vec![float("epsilon", norm.epsilon as f32)],
            None,
        );
    }

    fn activation(&mut self, activation: Activation, output: Option<&str>) {
        match activation {
            Activation::Relu => self.node("Relu", vec![], vec![], output),
            Activation::Sigmoid => self.node("Sigmoid", vec![], vec![], output),
            Activation::Identity => {}
        }
    }

    fn layer(&mut self, index: usize, layer: &Layer, is_last: bool) {
        let prefix = format!("layer{index}");
        // The last layer's final value is the `logits` output.
        let output = is_last.then_some(LOGITS);
        let (op, weight, attributes) = match layer.kind {
            LayerKind::Flatten => {
                self.node("Flatten", vec![], vec![int("axis", 1)], None);
                return;
            }
            LayerKind::Conv2d => {
                let geometry = layer.geometry;
                let attributes = vec![
                    ints("kernel_shape", &[geometry.kernel as i64; 2]),
                    ints("strides", &[geometry.stride as i64; 2]),
                    ints("pads", &[geometry.pad as i64; 4]),
                ];
                ("Conv", layer.weight.clone(), attributes)
            }
            // B in Gemm's default layout, `[in, out]`, as the float files have been written
            // since the first export (the twin, written later, has `transB`).
            LayerKind::Dense => ("Gemm", layer.weight.as_ref().map(Array::transposed), vec![]),
        };
        let mut inputs =
            weight.map_or(vec![], |w| vec![self.array(format!("{prefix}.weight"), &w)]);
        if let Some(b) = &layer.bias {
            inputs.push(self.vector(format!("{prefix}.bias"), b));
        }
        let direct = layer.norm.is_none() && layer.activation == Activation::Identity;
        self.node(op, inputs, attributes, if direct { output } else { None });
        if let Some(n) = &layer.norm {
            self.batch_norm(&prefix, n);
        }
        self.activation(layer.activation, output);
    }
}

fn graph_builder(name: String, classes: usize) -> GraphBuilder {
    let side = IMAGE_SIDE as i64;
    GraphBuilder {
        graph: Graph {
            name,
            inputs: vec![value_info(INPUT, &[None, Some(1), Some(side), Some(side)])],
            outputs: vec![
                value_info(PROBABILITIES, &[None, Some(classes as i64)]),
                value_info(LOGITS, &[None, Some(classes as i64)]),
            ],
            ..Default::default()
        },
        last: INPUT.into(),
    }
}

/// The model around a finished graph, with the provenance (and `extra`) as metadata.
fn model(graph: Graph, provenance: &Provenance, doc: String, extra: &[(&str, String)]) -> Model {
    let mut metadata = vec![
        ("stage", provenance.stage.clone()),
        ("test_accuracy", format!("{:.4}", provenance.test_accuracy)),
        ("normalisation", NORMALISATION.to_string()),
        ("training_command", provenance.training_command.clone()),
        ("project_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    metadata.extend(extra.iter().cloned());
    Model {
        ir_version: IR_VERSION,
        opset: OPSET,
        producer_name: "mnist-edge trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: doc,
        graph,
        metadata: metadata
            .into_iter()
            .map(|(key, value)| (key.into(), value))
            .collect(),
    }
}

/// The ONNX model for a stage's inference layers.
pub fn to_onnx(layers: &[Layer], provenance: &Provenance) -> Model {
    // The last layer's outputs are the classes.
    let classes = layers
        .last()
        .and_then(|l| l.weight.as_ref())
        .map_or(0, |w| w.dims[0]);
    let mut builder = graph_builder(
        format!("mnist_edge_{}", provenance.stage.replace('-', "_")),
        classes,
    );
    for (i, layer) in layers.iter().enumerate() {
        builder.layer(i, layer, i + 1 == layers.len());
    }
    builder.node("Softmax", vec![], vec![int("axis", 1)], Some(PROBABILITIES));
    let doc = format!("MNIST digit classifier, codelab stage {}", provenance.stage);
    model(builder.graph, provenance, doc, &[])
}

/// The twin's uint8 code of an int8 code of the flat file: the same integer offset by 128, so
/// that `scale * (code - zero_point)` and every sum of products are unchanged.
///
/// Why not int8: ONNX Runtime on x86-64 turns int8 activations into uint8 and runs uint8 x int8
/// products through `vpmaddubsw`, which adds pairs of products into a saturating int16 (2 * 255 *
/// 127 does not fit) unless the CPU has VNNI (AVX-512 VNNI or AVX-VNNI). On AVX2-only CPUs the
/// int8-coded twin of cnn-bn gave 97.79% where the flat file gives 99.39%. uint8 x uint8 products
/// go through `vpmaddwd` on 16-bit lanes, exact on every x86 CPU, and Arm's kernels have uint8 x
/// uint8 too: ONNX Runtime's fused kernels then compute the flat file's integers on every
/// instruction set (docs/onnx.md, "The int8 twins").
fn uint8_code(code: i8) -> u8 {
    (i16::from(code) + 128) as u8
}

impl GraphBuilder {
    /// A scalar scale and uint8 zero point (the int8 one + 128), as QuantizeLinear/DequantizeLinear
    /// inputs.
    fn quantization(&mut self, name: &str, quant: Quantization) -> [String; 2] {
        let scale = self.initializer(format!("{name}.scale"), &[], &[quant.scale]);
        let zero = self.raw_initializer(
            format!("{name}.zero_point"),
            &[],
            DataType::Uint8,
            vec![uint8_code(quant.zero_point as i8)],
        );
        [scale, zero]
    }

    /// Rounds the last value to the codes of `quant` and back: what the int8 runtime stores.
    fn quantize_dequantize(&mut self, name: &str, quant: Quantization, output: Option<&str>) {
        let [scale, zero] = self.quantization(name, quant);
        self.node(
            "QuantizeLinear",
            vec![scale.clone(), zero.clone()],
            vec![],
            None,
        );
        self.node("DequantizeLinear", vec![scale, zero], vec![], output);
    }

    /// The weights (uint8 codes `dims`, zero point 128, per-output-channel scales along axis 0) and
    /// the int32 bias at `s_in * s_w[c]`, each dequantized: the extra inputs of a Conv or Gemm.
    fn dequantized_weights(
        &mut self,
        prefix: &str,
        q: &QuantizedLayer,
        dims: &[usize],
    ) -> Vec<String> {
        let channels = q.bias.len();
        let codes = q.weights.iter().map(|&c| uint8_code(c)).collect();
        let weight_scales: Vec<f32> = q.weight_scales.iter().map(|&s| s as f32).collect();
        let bias_scales: Vec<f32> = q
            .weight_scales
            .iter()
            .map(|&s| (f64::from(q.input_quant.scale) * s) as f32)
            .collect();
        let weight_inputs = vec![
            self.raw_initializer(format!("{prefix}.weight"), dims, DataType::Uint8, codes),
            self.initializer(
                format!("{prefix}.weight.scale"),
                &[channels],
                &weight_scales,
            ),
            self.raw_initializer(
                format!("{prefix}.weight.zero_point"),
                &[channels],
                DataType::Uint8,
                vec![uint8_code(0); channels],
            ),
        ];
        let bias_inputs = vec![
            self.raw_initializer(
                format!("{prefix}.bias"),
                &[channels],
                DataType::Int32,
                le_bytes(&q.bias, i32::to_le_bytes),
            ),
            self.initializer(format!("{prefix}.bias.scale"), &[channels], &bias_scales),
            self.raw_initializer(
                format!("{prefix}.bias.zero_point"),
                &[channels],
                DataType::Int32,
                vec![0; 4 * channels],
            ),
        ];
        let axis = vec![int("axis", 0)];
        vec![
            self.op("DequantizeLinear", weight_inputs, axis.clone(), None),
            self.op("DequantizeLinear", bias_inputs, axis, None),
        ]
    }

    /// The output side of a quantised layer: its non-linearity and its requantisation.
    fn quantized_activation(&mut self, prefix: &str, q: &QuantizedLayer, output: Option<&str>) {
        match q.layer.activation {
            Activation::Identity => {}
            Activation::Relu => self.node("Relu", vec![], vec![], None),
            // The runtime requantises the pre-activation to its own codes, then looks the
            // output up in a table of the sigmoid: the same two roundings.
            Activation::Sigmoid => {
                self.quantize_dequantize(&format!("{prefix}.pre_activation"), q.target, None);
                self.node("Sigmoid", vec![], vec![], None);
            }
        }
        self.quantize_dequantize(&format!("{prefix}.output"), q.output_quant, output);
    }
}

/// The int8 twin of a stage's int8 flat file, from the same quantisation (`layers`, as
/// [`quantize`](super::quantize::quantize) made them for the flat file): a QDQ graph, float operators between
/// QuantizeLinear/DequantizeLinear pairs at every point where the int8 runtime holds codes, with
/// the int8 weights and int32 biases as initializers. Same interface as the float file.
pub fn to_int8_onnx(layers: &[QuantizedLayer], provenance: &Provenance) -> Model {
    let mut builder = graph_builder(
        format!("mnist_edge_{}_int8", provenance.stage.replace('-', "_")),
        classes(layers.last().map(|q| &q.layer)),
    );
    builder.quantize_dequantize("input", INPUT_QUANTIZATION, None);
    for (i, q) in layers.iter().enumerate() {
        let prefix = format!("layer{i}");
        let output = (i + 1 == layers.len()).then_some(LOGITS);
        match q.layer.kind {
            LayerKind::Flatten => {
                builder.node("Flatten", vec![], vec![int("axis", 1)], None);
            }
            LayerKind::Conv2d => {
                let (out, input, k) = (
                    q.layer.output.channels,
                    q.layer.input.channels,
                    q.layer.geometry.kernel,
                );
                let inputs = builder.dequantized_weights(&prefix, q, &[out, input, k, k]);
                let attributes = vec![
                    ints("kernel_shape", &[k as i64; 2]),
                    ints("strides", &[q.layer.geometry.stride as i64; 2]),
                    ints("pads", &[q.layer.geometry.pad as i64; 4]),
                ];
                builder.node("Conv", inputs, attributes, None);
                builder.quantized_activation(&prefix, q, output);
            }
            LayerKind::Dense => {
                let dims = [q.layer.output.channels, q.layer.weights_per_output()];
                let inputs = builder.dequantized_weights(&prefix, q, &dims);
                builder.node("Gemm", inputs, vec![int("transB", 1)], None);
                builder.quantized_activation(&prefix, q, output);
            }
        }
    }
    builder.node("Softmax", vec![], vec![int("axis", 1)], Some(PROBABILITIES));
    let doc = format!(
        "MNIST digit classifier, codelab stage {}, int8 (QDQ) twin of {}.i8.mnef",
        provenance.stage, provenance.stage
    );
    let note = "QDQ with uint8 codes (the flat file's int8 codes + 128): weights symmetric per \
                output channel (zero point 128), activations asymmetric per tensor, int32 \
                biases; the quantisation of the stage's .i8.mnef flat file";
    model(
        builder.graph,
        provenance,
        doc,
        &[("quantisation", note.into())],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::layers::inference_layers;
    use crate::stages::Stage;
    use burn::tensor::Device;

    fn export(stage: Stage) -> Model {
        let model = stage.init_model(&Device::flex());
        let provenance = Provenance {
            stage: stage.name().into(),
            test_accuracy: 0.5,
            training_command: "test".into(),
        };
        to_onnx(
            &inference_layers(&burn::module::Module::valid(&model)),
            &provenance,
        )
    }

    fn ops(model: &Model) -> Vec<&str> {
        model
            .graph
            .nodes
            .iter()
            .map(|n| n.op_type.as_str())
            .collect()
    }

    #[test]
    fn uint8_codes_are_the_int8_codes_plus_128() {
        for (int8, uint8) in [
            (-128, 0),
            (-127, 1),
            (-1, 127),
            (0, 128),
            (1, 129),
            (127, 255),
        ] {
            assert_eq!(uint8_code(int8), uint8, "{int8}");
        }
    }

    #[test]
    fn cnn_bn_graph_has_the_inference_ops_in_order() {
        let model = export(Stage::named("cnn-bn"));
        assert_eq!(
            ops(&model),
            [
                "Conv",
                "BatchNormalization",
                "Relu",
                "Conv",
                "BatchNormalization",
                "Relu",
                "Conv",
                "BatchNormalization",
                "Relu",
                "Flatten",
                "Gemm",
                "BatchNormalization",
                "Relu",
                "Gemm",
                "Softmax"
            ]
        );
        let conv2 = &model.graph.nodes[3];
        assert_eq!(
            conv2
                .attributes
                .iter()
                .find(|a| a.name == "pads")
                .unwrap()
                .value,
            AttributeValue::Ints(vec![2, 2, 2, 2])
        );
        let params: usize = model
            .graph
            .initializers
            .iter()
            .map(|t| t.dims.iter().product::<i64>() as usize)
            .sum();
        // 354,002 trainable + the frozen gammas and the running statistics (3 x 268).
        assert_eq!(params, 354_002 + 3 * 268);
        let last = model.graph.nodes.len() - 2;
        assert_eq!(model.graph.nodes[last].outputs, [LOGITS]);
    }

    #[test]
    fn dense_graph_flattens_then_gemms_and_round_trips_through_protobuf() {
        let model = export(Stage::named("dense-sigmoid"));
        assert_eq!(
            ops(&model),
            [
                "Flatten", "Gemm", "Sigmoid", "Gemm", "Sigmoid", "Gemm", "Softmax"
            ]
        );
        // Everything written reads back, through a reader of its own.
        assert_eq!(proto::tests::decode(&model.to_bytes()), model);
        assert!(
            model
                .metadata
                .contains(&("stage".to_string(), "dense-sigmoid".to_string()))
        );
        assert_eq!(model.graph.initializers[0].raw_data.len(), 784 * 200 * 4);
    }
}
