//! The encoder's tests, and [`decode`]: a file read back by another reader.

use super::*;

/// `bytes` read back by burn-onnx's ONNX reader (onnx-ir), as the messages here: what a
/// consumer finds in a file, for tests to compare with what was written.
pub(in crate::export::onnx) fn decode(bytes: &[u8]) -> Model {
    use onnx_ir::{AttributeType, Message as _, ModelProto};
    let data_type = |code: i32| match code {
        1 => DataType::Float,
        2 => DataType::Uint8,
        6 => DataType::Int32,
        other => panic!("data type {other} is not one the exporter writes"),
    };
    let value_info = |info: &onnx_ir::ValueInfoProto| {
        let tensor = info.type_.tensor_type();
        ValueInfo {
            name: info.name.clone(),
            elem_type: data_type(tensor.elem_type),
            dims: (tensor.shape.dim.iter())
                .map(|d| match d.has_dim_value() {
                    true => Dim::Fixed(d.dim_value()),
                    false => Dim::Symbolic(d.dim_param().into()),
                })
                .collect(),
        }
    };
    let attribute = |a: &onnx_ir::AttributeProto| Attribute {
        name: a.name.clone(),
        value: match a.type_.enum_value() {
            Ok(AttributeType::FLOAT) => AttributeValue::Float(a.f),
            Ok(AttributeType::INT) => AttributeValue::Int(a.i),
            Ok(AttributeType::INTS) => AttributeValue::Ints(a.ints.clone()),
            other => panic!("attribute type {other:?} is not one the exporter writes"),
        },
    };
    let model = ModelProto::parse_from_bytes(bytes).expect("a valid ModelProto");
    let [opset] = &model.opset_import[..] else {
        panic!("{} opsets, not one", model.opset_import.len());
    };
    assert_eq!(opset.domain, "", "the default domain");
    let graph = &model.graph;
    Model {
        ir_version: model.ir_version,
        opset: opset.version,
        producer_name: model.producer_name.clone(),
        producer_version: model.producer_version.clone(),
        doc_string: model.doc_string.clone(),
        graph: Graph {
            name: graph.name.clone(),
            nodes: (graph.node.iter())
                .map(|n| Node {
                    name: n.name.clone(),
                    op_type: n.op_type.clone(),
                    inputs: n.input.clone(),
                    outputs: n.output.clone(),
                    attributes: n.attribute.iter().map(attribute).collect(),
                })
                .collect(),
            initializers: (graph.initializer.iter())
                .map(|t| Tensor {
                    name: t.name.clone(),
                    dims: t.dims.clone(),
                    data_type: data_type(t.data_type),
                    raw_data: t.raw_data.to_vec(),
                })
                .collect(),
            inputs: graph.input.iter().map(value_info).collect(),
            outputs: graph.output.iter().map(value_info).collect(),
        },
        metadata: (model.metadata_props.iter())
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect(),
    }
}

fn encoded(write: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut encoder = Encoder::default();
    write(&mut encoder);
    encoder.0
}

#[test]
fn varints_are_seven_bits_a_byte_low_first() {
    assert_eq!(encoded(|e| e.varint(1)), [0x01]);
    assert_eq!(encoded(|e| e.varint(300)), [0xac, 0x02]);
    // A negative int64 is its two's complement as a u64: ten bytes.
    assert_eq!(
        encoded(|e| e.int(1, -1)),
        [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        ]
    );
}

#[test]
fn defaults_are_left_out_but_repeated_and_nested_values_are_not() {
    assert!(encoded(|e| e.int(2, 0)).is_empty());
    assert!(encoded(|e| e.float(2, 0.0)).is_empty());
    assert!(encoded(|e| e.bytes(4, b"")).is_empty());
    assert_eq!(encoded(|e| e.int_element(8, 0)), [0x40, 0x00]);
    assert_eq!(encoded(|e| e.length_delimited(1, b"")), [0x0a, 0x00]);
    assert_eq!(Dim::Fixed(0).encode(), [0x08, 0x00]);
}

#[test]
fn an_attribute_is_its_name_type_and_value() {
    let epsilon = Attribute {
        name: "epsilon".into(),
        value: AttributeValue::Float(1.0),
    };
    let mut expected = vec![0x0a, 7];
    expected.extend_from_slice(b"epsilon");
    // type = FLOAT: field 20 (two-byte key), then f: field 2, fixed 32 bits.
    expected.extend_from_slice(&[0xa0, 0x01, 0x01, 0x15]);
    expected.extend_from_slice(&1.0f32.to_le_bytes());
    assert_eq!(epsilon.encode(), expected);
}

#[test]
fn every_field_reads_back_through_onnx_ir() {
    let tensor = |name: &str, dims: Vec<i64>, data_type, raw_data| Tensor {
        name: name.into(),
        dims,
        data_type,
        raw_data,
    };
    let model = Model {
        ir_version: 8,
        opset: 17,
        producer_name: "test".into(),
        producer_version: "0.1".into(),
        doc_string: "every case".into(),
        graph: Graph {
            name: "g".into(),
            nodes: vec![Node {
                name: "Conv_0".into(),
                op_type: "Conv".into(),
                inputs: vec!["x".into(), "w".into(), "b".into()],
                outputs: vec!["y".into()],
                attributes: vec![
                    attribute("strides", AttributeValue::Ints(vec![2, 0, -1])),
                    attribute("group", AttributeValue::Int(-3)),
                    attribute("axis", AttributeValue::Int(0)),
                    attribute("alpha", AttributeValue::Float(-0.5)),
                ],
            }],
            initializers: vec![
                tensor("w", vec![1, 1, 1, 1], DataType::Uint8, vec![200]),
                tensor(
                    "b",
                    vec![1],
                    DataType::Int32,
                    (-7i32).to_le_bytes().to_vec(),
                ),
                tensor("s", vec![], DataType::Float, 0.25f32.to_le_bytes().to_vec()),
            ],
            inputs: vec![ValueInfo {
                name: "x".into(),
                elem_type: DataType::Float,
                dims: vec![Dim::Symbolic("N".into()), Dim::Fixed(0), Dim::Fixed(28)],
            }],
            outputs: vec![ValueInfo {
                name: "y".into(),
                elem_type: DataType::Float,
                dims: vec![],
            }],
        },
        metadata: vec![("k".into(), "v".into()), ("empty".into(), String::new())],
    };
    assert_eq!(decode(&model.to_bytes()), model);
}

fn attribute(name: &str, value: AttributeValue) -> Attribute {
    Attribute {
        name: name.into(),
        value,
    }
}
