//! The ONNX messages the exporter writes, and protobuf's wire encoding of them.
//!
//! Only the fields the trainer sets are here, with their numbers from onnx.proto (numbers never
//! change between ONNX versions) in one map per message, [`field`]. A message is encoded the way
//! protoc-generated writers (and rust-protobuf's) encode it, so the same model gives the same
//! bytes: fields in the order onnx.proto declares them, a scalar at its default (0, empty) left
//! out, a nested message always written, repeated numbers one key per element.
//!
//! Why not a generated crate: `onnx-protobuf`, the one on crates.io, pins `protobuf =3.4.0`,
//! and burn-onnx needs `protobuf ^3.7`; one lockfile cannot hold both, and the burn-onnx round
//! trip (cross-check/burn-onnx) would need a workspace and a build of burn of its own.

/// Field numbers, one module per message (onnx.proto's names, in its declaration order: the
/// order each message's encoding writes them in).
pub mod field {
    /// `ModelProto`.
    pub mod model {
        /// `ir_version`: int64.
        pub const IR_VERSION: u32 = 1;
        /// `opset_import`: repeated `OperatorSetIdProto`.
        pub const OPSET_IMPORT: u32 = 8;
        /// `producer_name`: string.
        pub const PRODUCER_NAME: u32 = 2;
        /// `producer_version`: string.
        pub const PRODUCER_VERSION: u32 = 3;
        /// `doc_string`: string.
        pub const DOC_STRING: u32 = 6;
        /// `graph`: `GraphProto`.
        pub const GRAPH: u32 = 7;
        /// `metadata_props`: repeated `StringStringEntryProto`.
        pub const METADATA_PROPS: u32 = 14;
    }

    /// `OperatorSetIdProto`.
    pub mod operator_set_id {
        /// `domain`: string ("" is the default ONNX domain).
        pub const DOMAIN: u32 = 1;
        /// `version`: int64.
        pub const VERSION: u32 = 2;
    }

    /// `StringStringEntryProto`.
    pub mod string_string_entry {
        /// `key`: string.
        pub const KEY: u32 = 1;
        /// `value`: string.
        pub const VALUE: u32 = 2;
    }

    /// `GraphProto`.
    pub mod graph {
        /// `node`: repeated `NodeProto`, in topological order.
        pub const NODE: u32 = 1;
        /// `name`: string.
        pub const NAME: u32 = 2;
        /// `initializer`: repeated `TensorProto`.
        pub const INITIALIZER: u32 = 5;
        /// `input`: repeated `ValueInfoProto`.
        pub const INPUT: u32 = 11;
        /// `output`: repeated `ValueInfoProto`.
        pub const OUTPUT: u32 = 12;
    }

    /// `NodeProto`.
    pub mod node {
        /// `input`: repeated string.
        pub const INPUT: u32 = 1;
        /// `output`: repeated string.
        pub const OUTPUT: u32 = 2;
        /// `name`: string.
        pub const NAME: u32 = 3;
        /// `op_type`: string.
        pub const OP_TYPE: u32 = 4;
        /// `attribute`: repeated `AttributeProto`.
        pub const ATTRIBUTE: u32 = 5;
    }

    /// `AttributeProto`.
    pub mod attribute {
        /// `name`: string.
        pub const NAME: u32 = 1;
        /// `type`: `AttributeType` enum.
        pub const TYPE: u32 = 20;
        /// `f`: float.
        pub const F: u32 = 2;
        /// `i`: int64.
        pub const I: u32 = 3;
        /// `ints`: repeated int64.
        pub const INTS: u32 = 8;
    }

    /// `TensorProto`.
    pub mod tensor {
        /// `dims`: repeated int64.
        pub const DIMS: u32 = 1;
        /// `data_type`: int32 (a `DataType` code).
        pub const DATA_TYPE: u32 = 2;
        /// `name`: string.
        pub const NAME: u32 = 8;
        /// `raw_data`: bytes, the values little-endian.
        pub const RAW_DATA: u32 = 9;
    }

    /// `ValueInfoProto`.
    pub mod value_info {
        /// `name`: string.
        pub const NAME: u32 = 1;
        /// `type`: `TypeProto`.
        pub const TYPE: u32 = 2;
    }

    /// `TypeProto` (a oneof; the tensor case only).
    pub mod type_proto {
        /// `tensor_type`: `TypeProto.Tensor`.
        pub const TENSOR_TYPE: u32 = 1;
    }

    /// `TypeProto.Tensor`.
    pub mod tensor_type {
        /// `elem_type`: int32 (a `DataType` code).
        pub const ELEM_TYPE: u32 = 1;
        /// `shape`: `TensorShapeProto`.
        pub const SHAPE: u32 = 2;
    }

    /// `TensorShapeProto`.
    pub mod tensor_shape {
        /// `dim`: repeated `TensorShapeProto.Dimension`.
        pub const DIM: u32 = 1;
    }

    /// `TensorShapeProto.Dimension` (a oneof).
    pub mod dimension {
        /// `dim_value`: int64.
        pub const DIM_VALUE: u32 = 1;
        /// `dim_param`: string, a symbolic size.
        pub const DIM_PARAM: u32 = 2;
    }
}

/// `TensorProto.DataType`: the element types the exporter writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// 32-bit float.
    Float,
    /// 8-bit unsigned integer.
    Uint8,
    /// 32-bit signed integer.
    Int32,
}

impl DataType {
    /// The code onnx.proto gives it.
    pub fn code(self) -> i64 {
        match self {
            DataType::Float => 1,
            DataType::Uint8 => 2,
            DataType::Int32 => 6,
        }
    }
}

/// `ModelProto`: a whole file.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The IR version the file follows.
    pub ir_version: i64,
    /// The opset of the default domain (the only one the graph uses).
    pub opset: i64,
    /// Which program wrote the file.
    pub producer_name: String,
    /// Its version.
    pub producer_version: String,
    /// What the model is, for people.
    pub doc_string: String,
    /// The computation.
    pub graph: Graph,
    /// Key-value metadata (`metadata_props`).
    pub metadata: Vec<(String, String)>,
}

/// `GraphProto`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    /// The graph's name.
    pub name: String,
    /// Operators, in topological order.
    pub nodes: Vec<Node>,
    /// Constant tensors (the weights).
    pub initializers: Vec<Tensor>,
    /// The graph's inputs.
    pub inputs: Vec<ValueInfo>,
    /// The graph's outputs.
    pub outputs: Vec<ValueInfo>,
}

/// `NodeProto`: one operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// A name unique in the graph.
    pub name: String,
    /// The operator (`Conv`, `Gemm`, ...).
    pub op_type: String,
    /// Names of the values it reads.
    pub inputs: Vec<String>,
    /// Names of the values it writes.
    pub outputs: Vec<String>,
    /// Its attributes.
    pub attributes: Vec<Attribute>,
}

/// `AttributeProto`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute's name (`strides`, `axis`, ...).
    pub name: String,
    /// Its value, which also gives its type.
    pub value: AttributeValue,
}

/// The value of an [`Attribute`]: the attribute types the exporter writes.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// `FLOAT`, in field `f`.
    Float(f32),
    /// `INT`, in field `i`.
    Int(i64),
    /// `INTS`, in field `ints`.
    Ints(Vec<i64>),
}

impl AttributeValue {
    /// onnx.proto's `AttributeType` code.
    fn type_code(&self) -> i64 {
        match self {
            AttributeValue::Float(_) => 1,
            AttributeValue::Int(_) => 2,
            AttributeValue::Ints(_) => 7,
        }
    }
}

/// `TensorProto`: a constant tensor, its values as `raw_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The value's name.
    pub name: String,
    /// Its shape (empty for a scalar).
    pub dims: Vec<i64>,
    /// Its element type.
    pub data_type: DataType,
    /// The elements, little-endian, row-major.
    pub raw_data: Vec<u8>,
}

/// `ValueInfoProto` of a tensor: a graph input or output.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueInfo {
    /// The value's name.
    pub name: String,
    /// Its element type.
    pub elem_type: DataType,
    /// Its shape.
    pub dims: Vec<Dim>,
}

/// One dimension of a [`ValueInfo`]'s shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A size named by a parameter (`N` for the batch), fixed by each caller.
    Symbolic(String),
}

/// Protobuf's wire types: how a field's value is laid out after its key.
#[derive(Clone, Copy)]
enum WireType {
    Varint = 0,
    LengthDelimited = 2,
    Fixed32 = 5,
}

/// The bytes of one message, field by field.
#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire: WireType) {
        self.varint(u64::from(field) << 3 | wire as u64);
    }

    /// An int32, int64 or enum field, left out at 0. Negative values take ten bytes, as
    /// protobuf's int64 (not zigzag) does.
    fn int(&mut self, field: u32, value: i64) {
        if value != 0 {
            self.int_element(field, value);
        }
    }

    /// One element of a repeated int64 field: written whatever its value.
    fn int_element(&mut self, field: u32, value: i64) {
        self.key(field, WireType::Varint);
        self.varint(value as u64);
    }

    /// A float field, left out at 0.
    fn float(&mut self, field: u32, value: f32) {
        if value != 0.0 {
            self.key(field, WireType::Fixed32);
            self.0.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// A string or bytes field, left out when empty.
    fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.length_delimited(field, value);
        }
    }

    /// A string or bytes value written whatever it holds: one element of a repeated field, or
    /// a nested message.
    fn length_delimited(&mut self, field: u32, value: &[u8]) {
        self.key(field, WireType::LengthDelimited);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
    }

    /// A nested message, its fields written by `fields`.
    fn nested(&mut self, field: u32, fields: impl FnOnce(&mut Encoder)) {
        let mut inner = Encoder::default();
        fields(&mut inner);
        self.length_delimited(field, &inner.0);
    }

    fn message(&mut self, field: u32, message: &impl Message) {
        self.nested(field, |e| message.encode_fields(e));
    }
}

/// A message that protobuf can encode.
trait Message {
    /// Appends the message's fields, in onnx.proto's declaration order.
    fn encode_fields(&self, encoder: &mut Encoder);

    fn encode(&self) -> Vec<u8> {
        let mut encoder = Encoder::default();
        self.encode_fields(&mut encoder);
        encoder.0
    }
}

impl Model {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }
}

impl Message for Model {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::model::*;
        e.int(IR_VERSION, self.ir_version);
        e.nested(OPSET_IMPORT, |opset| {
            use field::operator_set_id::*;
            opset.bytes(DOMAIN, b""); // the default domain
            opset.int(VERSION, self.opset);
        });
        e.bytes(PRODUCER_NAME, self.producer_name.as_bytes());
        e.bytes(PRODUCER_VERSION, self.producer_version.as_bytes());
        e.bytes(DOC_STRING, self.doc_string.as_bytes());
        e.message(GRAPH, &self.graph);
        for (key, value) in &self.metadata {
            e.nested(METADATA_PROPS, |entry| {
                entry.bytes(field::string_string_entry::KEY, key.as_bytes());
                entry.bytes(field::string_string_entry::VALUE, value.as_bytes());
            });
        }
    }
}

impl Message for Graph {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::graph::*;
        for node in &self.nodes {
            e.message(NODE, node);
        }
        e.bytes(NAME, self.name.as_bytes());
        for tensor in &self.initializers {
            e.message(INITIALIZER, tensor);
        }
        for input in &self.inputs {
            e.message(INPUT, input);
        }
        for output in &self.outputs {
            e.message(OUTPUT, output);
        }
    }
}

impl Message for Node {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::node::*;
        for input in &self.inputs {
            e.length_delimited(INPUT, input.as_bytes());
        }
        for output in &self.outputs {
            e.length_delimited(OUTPUT, output.as_bytes());
        }
        e.bytes(NAME, self.name.as_bytes());
        e.bytes(OP_TYPE, self.op_type.as_bytes());
        for attribute in &self.attributes {
            e.message(ATTRIBUTE, attribute);
        }
    }
}

impl Message for Attribute {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::attribute::*;
        e.bytes(NAME, self.name.as_bytes());
        e.int(TYPE, self.value.type_code());
        match &self.value {
            AttributeValue::Float(value) => e.float(F, *value),
            AttributeValue::Int(value) => e.int(I, *value),
            AttributeValue::Ints(values) => {
                for &value in values {
                    e.int_element(INTS, value);
                }
            }
        }
    }
}

impl Message for Tensor {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::tensor::*;
        for &dim in &self.dims {
            e.int_element(DIMS, dim);
        }
        e.int(DATA_TYPE, self.data_type.code());
        e.bytes(NAME, self.name.as_bytes());
        e.bytes(RAW_DATA, &self.raw_data);
    }
}

impl Message for ValueInfo {
    fn encode_fields(&self, e: &mut Encoder) {
        e.bytes(field::value_info::NAME, self.name.as_bytes());
        // Its `TypeProto`, the tensor case, with the element type and the shape.
        e.nested(field::value_info::TYPE, |type_proto| {
            type_proto.nested(field::type_proto::TENSOR_TYPE, |tensor| {
                use field::tensor_type::*;
                tensor.int(ELEM_TYPE, self.elem_type.code());
                tensor.nested(SHAPE, |shape| {
                    for dim in &self.dims {
                        shape.message(field::tensor_shape::DIM, dim);
                    }
                });
            });
        });
    }
}

impl Message for Dim {
    fn encode_fields(&self, e: &mut Encoder) {
        use field::dimension::*;
        // A oneof: its one set case is written even at its default.
        match self {
            Dim::Fixed(size) => e.int_element(DIM_VALUE, *size),
            Dim::Symbolic(name) => e.length_delimited(DIM_PARAM, name.as_bytes()),
        }
    }
}

#[cfg(test)]
pub(super) mod tests;
