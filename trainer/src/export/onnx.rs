//! ONNX export (IR 8, opset 17) of the inference graph, written with `onnx-protobuf`.
//!
//! Input `image`: float32 `[N, 1, 28, 28]` (pixels / 256, N symbolic). Outputs `probabilities`
//! (Softmax over axis 1) and `logits`, both `[N, 10]`. Batch norm stays a
//! `BatchNormalization` node with the trained statistics and epsilon; dropout is gone; conv
//! padding is explicit and symmetric; dense layers are `Gemm` with `B` laid out `[in, out]`.

use std::path::Path;

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{Dimension, dimension};
use onnx_protobuf::type_proto::{self, Value};
use onnx_protobuf::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, MessageField};

use super::layers::{Activation, Array, BatchNormParams, Layer};
use crate::data::{CLASSES, IMAGE_SIDE};

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

fn attribute(
    name: &str,
    kind: AttributeType,
    fill: impl FnOnce(&mut AttributeProto),
) -> AttributeProto {
    let mut a = AttributeProto {
        name: name.into(),
        type_: EnumOrUnknown::new(kind),
        ..Default::default()
    };
    fill(&mut a);
    a
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    attribute(name, AttributeType::INTS, |a| a.ints = values.to_vec())
}

fn int(name: &str, value: i64) -> AttributeProto {
    attribute(name, AttributeType::INT, |a| a.i = value)
}

fn float(name: &str, value: f32) -> AttributeProto {
    attribute(name, AttributeType::FLOAT, |a| a.f = value)
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: DataType::FLOAT as i32,
        shape: MessageField::some(TensorShapeProto {
            dim,
            ..Default::default()
        }),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.into(),
        type_: MessageField::some(TypeProto {
            value: Some(Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Builds the graph node by node, naming intermediate values `<op>_<n>`.
struct GraphBuilder {
    graph: GraphProto,
    last: String,
}

impl GraphBuilder {
    fn initializer(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        self.graph.initializer.push(TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::FLOAT as i32,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
        name
    }

    fn array(&mut self, name: String, array: &Array) -> String {
        self.initializer(name, &array.dims, &array.values)
    }

    fn vector(&mut self, name: String, values: &[f32]) -> String {
        self.initializer(name, &[values.len()], values)
    }

    /// Appends `op` reading the previous value plus `extra` inputs; its output becomes the last.
    fn node(
        &mut self,
        op: &str,
        extra: Vec<String>,
        attributes: Vec<AttributeProto>,
        output: Option<&str>,
    ) {
        let index = self.graph.node.len();
        let output =
            output.map_or_else(|| format!("{}_{index}", op.to_lowercase()), str::to_string);
        let mut input = vec![self.last.clone()];
        input.extend(extra);
        self.graph.node.push(NodeProto {
            name: format!("{op}_{index}"),
            op_type: op.into(),
            input,
            output: vec![output.clone()],
            attribute: attributes,
            ..Default::default()
        });
        self.last = output;
    }

    /// The initializers of a conv or dense layer, as its extra inputs.
    fn weight_and_bias(
        &mut self,
        prefix: &str,
        weight: &Array,
        bias: Option<&[f32]>,
    ) -> Vec<String> {
        let mut inputs = vec![self.array(format!("{prefix}.weight"), weight)];
        if let Some(b) = bias {
            inputs.push(self.vector(format!("{prefix}.bias"), b));
        }
        inputs
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
        match layer {
            Layer::Flatten => self.node("Flatten", vec![], vec![int("axis", 1)], None),
            Layer::Conv {
                weight,
                bias,
                stride,
                pad,
                norm,
                activation,
            } => {
                let inputs = self.weight_and_bias(&prefix, weight, bias.as_deref());
                let kernel = [weight.dims[2] as i64, weight.dims[3] as i64];
                let attributes = vec![
                    ints("kernel_shape", &kernel),
                    ints("strides", &[*stride as i64; 2]),
                    ints("pads", &[*pad as i64; 4]),
                ];
                self.node("Conv", inputs, attributes, None);
                if let Some(n) = norm {
                    self.batch_norm(&prefix, n);
                }
                self.activation(*activation, output);
            }
            Layer::Dense {
                weight,
                bias,
                norm,
                activation,
            } => {
                let inputs = self.weight_and_bias(&prefix, weight, bias.as_deref());
                let direct = norm.is_none() && *activation == Activation::Identity;
                self.node("Gemm", inputs, vec![], if direct { output } else { None });
                if let Some(n) = norm {
                    self.batch_norm(&prefix, n);
                }
                self.activation(*activation, output);
            }
        }
    }
}

/// The ONNX model for a stage's inference layers.
pub fn to_onnx(layers: &[Layer], provenance: &Provenance) -> ModelProto {
    let side = IMAGE_SIDE as i64;
    let mut builder = GraphBuilder {
        graph: GraphProto {
            name: format!("mnist_edge_{}", provenance.stage.replace('-', "_")),
            input: vec![value_info(INPUT, &[None, Some(1), Some(side), Some(side)])],
            output: vec![
                value_info(PROBABILITIES, &[None, Some(CLASSES as i64)]),
                value_info(LOGITS, &[None, Some(CLASSES as i64)]),
            ],
            ..Default::default()
        },
        last: INPUT.into(),
    };
    for (i, layer) in layers.iter().enumerate() {
        builder.layer(i, layer, i + 1 == layers.len());
    }
    builder.node("Softmax", vec![], vec![int("axis", 1)], Some(PROBABILITIES));
    let metadata = [
        ("stage", provenance.stage.clone()),
        ("test_accuracy", format!("{:.4}", provenance.test_accuracy)),
        ("normalisation", NORMALISATION.to_string()),
        ("training_command", provenance.training_command.clone()),
        ("project_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
            ..Default::default()
        }],
        producer_name: "mnist-edge trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("MNIST digit classifier, codelab stage {}", provenance.stage),
        graph: MessageField::some(builder.graph),
        metadata_props: metadata
            .into_iter()
            .map(|(key, value)| StringStringEntryProto {
                key: key.into(),
                value,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Serialises `model` to `path`.
pub fn write_onnx(model: &ModelProto, path: &Path) -> std::io::Result<()> {
    let bytes = model.write_to_bytes().map_err(std::io::Error::other)?;
    std::fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::layers::inference_layers;
    use crate::stages::Stage;
    use burn::tensor::Device;

    fn export(stage: Stage) -> ModelProto {
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

    fn ops(model: &ModelProto) -> Vec<&str> {
        model
            .graph
            .node
            .iter()
            .map(|n| n.op_type.as_str())
            .collect()
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
        let conv2 = &model.graph.node[3];
        assert_eq!(
            conv2
                .attribute
                .iter()
                .find(|a| a.name == "pads")
                .unwrap()
                .ints,
            [2, 2, 2, 2]
        );
        let params: usize = model
            .graph
            .initializer
            .iter()
            .map(|t| t.dims.iter().product::<i64>() as usize)
            .sum();
        // 354,002 trainable + the frozen gammas and the running statistics (3 x 268).
        assert_eq!(params, 354_002 + 3 * 268);
        let last = model.graph.node.len() - 2;
        assert_eq!(model.graph.node[last].output, [LOGITS]);
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
        let bytes = model.write_to_bytes().unwrap();
        let back = ModelProto::parse_from_bytes(&bytes).unwrap();
        assert_eq!(back.ir_version, 8);
        assert_eq!(back.opset_import[0].version, OPSET);
        assert!(
            back.metadata_props
                .iter()
                .any(|p| p.key == "stage" && p.value == "dense-sigmoid")
        );
        assert_eq!(back.graph.initializer[0].raw_data.len(), 784 * 200 * 4);
    }
}
