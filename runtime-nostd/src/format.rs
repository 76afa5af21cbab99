//! The flat weight format, in the manner of smoltcp's `wire` modules: one field map per record
//! ([`header`] and [`layer_record`] name every byte range), zero-copy views over any byte buffer
//! whose getters the parser uses and whose setters the writer uses ([`HeaderView`],
//! [`LayerView`]), the code tables of variants, layer kinds and activations, and the rules a
//! layer must satisfy ([`Layer::check`]), which the reader and the writer both apply.
//! `FORMAT.md` is the prose version of this file; the two change together.

use core::ops::Range;

use crate::crc32::crc32;
use crate::error::{LayerFault, ParseError, SectionFault};

/// A byte range of a record.
pub type Field = Range<usize>;

/// First four bytes of every file: "MNEF" (MNist Edge Flat).
pub const MAGIC: [u8; 4] = *b"MNEF";
/// The version this crate reads and writes.
pub const VERSION: u16 = 1;
/// Most layers a file may have.
pub const MAX_LAYERS: usize = 16;
/// Every section (metadata, weights, biases, requantisation tables, LUTs) starts at a multiple
/// of this, and the file length is one, so a file placed at an aligned address can be read in
/// place.
pub const SECTION_ALIGN: usize = 16;
/// The largest activation (values per image) a layer may produce, which bounds scratch memory.
pub const MAX_ACTIVATION: usize = 1 << 20;

/// The 32-byte header, field by field (FORMAT.md, "Header").
pub mod header {
    use super::Field;

    /// `MNEF`.
    pub const MAGIC: Field = 0..4;
    /// u16 format version.
    pub const VERSION: Field = 4..6;
    /// u8 [`Variant`](super::Variant) code.
    pub const VARIANT: usize = 6;
    /// u8 number of layer records.
    pub const LAYER_COUNT: usize = 7;
    /// u32 length of the whole file.
    pub const FILE_LEN: Field = 8..12;
    /// u32 CRC-32 of every byte from [`CRC_START`](super::CRC_START) to the end of the file.
    pub const CRC: Field = 12..16;
    /// u16 input channels.
    pub const INPUT_CHANNELS: Field = 16..18;
    /// u16 input height.
    pub const INPUT_HEIGHT: Field = 18..20;
    /// u16 input width.
    pub const INPUT_WIDTH: Field = 20..22;
    /// u16 number of classes.
    pub const CLASSES: Field = 22..24;
    /// The metadata section: u32 offset, u32 length.
    pub const METADATA: Field = 24..32;
    /// Bytes in the header.
    pub const LEN: usize = METADATA.end;
}

/// A 64-byte layer record, field by field (FORMAT.md, "Layer record").
pub mod layer_record {
    use super::Field;

    /// u8 [`LayerKind`](super::LayerKind) code.
    pub const KIND: usize = 0;
    /// u8 [`Activation`](super::Activation) code.
    pub const ACTIVATION: usize = 1;
    /// u8 kernel side (conv; 0 otherwise).
    pub const KERNEL: usize = 2;
    /// u8 stride (conv; 0 otherwise).
    pub const STRIDE: usize = 3;
    /// u8 padding on every side (conv; 0 otherwise).
    pub const PAD: usize = 4;
    /// Reserved, zero.
    pub const RESERVED: Field = 5..8;
    /// u16 input channels (dense: input features).
    pub const INPUT_CHANNELS: Field = 8..10;
    /// u16 input height.
    pub const INPUT_HEIGHT: Field = 10..12;
    /// u16 input width.
    pub const INPUT_WIDTH: Field = 12..14;
    /// u16 output channels (dense: output features).
    pub const OUTPUT_CHANNELS: Field = 14..16;
    /// Weights section: u32 offset, u32 length.
    pub const WEIGHTS: Field = 16..24;
    /// Biases section.
    pub const BIAS: Field = 24..32;
    /// Requantisation table section (int8).
    pub const REQUANT: Field = 32..40;
    /// Input quantisation: f32 scale, i32 zero point (int8).
    pub const INPUT_QUANT: Field = 40..48;
    /// Output quantisation (int8).
    pub const OUTPUT_QUANT: Field = 48..56;
    /// Sigmoid lookup table section (int8 sigmoid layers).
    pub const LUT: Field = 56..64;
    /// Bytes in a record.
    pub const LEN: usize = LUT.end;
}

/// Size of the fixed header.
pub const HEADER_LEN: usize = header::LEN;
/// Size of one layer record.
pub const LAYER_RECORD_LEN: usize = layer_record::LEN;
/// The CRC covers the file from here on; the bytes before it are checked field by field.
pub const CRC_START: usize = header::CRC.end;

/// Declares an enum stored in a file as a one-byte code, with both directions of the mapping
/// generated from the one list.
macro_rules! coded_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The byte that stands for it in a file.
            pub const fn code(self) -> u8 {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The value a byte stands for, if any.
            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

coded_enum! {
    /// Number format of a model's weights and activations.
    pub enum Variant {
        /// f32 weights, biases and activations.
        F32 = 1,
        /// int8 weights (symmetric per output channel) and activations (asymmetric per tensor),
        /// int32 biases, fixed-point requantisation.
        Int8 = 2,
    }
}

coded_enum! {
    /// What a layer computes. Adding a kind: see FORMAT.md, "Adding a layer kind".
    pub enum LayerKind {
        /// 2-D convolution over HWC activations with OHWI weights, square kernel, symmetric
        /// zero padding.
        Conv2d = 1,
        /// Fully connected, weights `[out][in]`.
        Dense = 2,
        /// An HWC tensor as a vector in the same (HWC) order: a change of shape, no computation.
        Flatten = 3,
    }
}

coded_enum! {
    /// The non-linearity a layer applies to its output.
    pub enum Activation {
        /// None.
        Identity = 0,
        /// max(0, x).
        Relu = 1,
        /// 1 / (1 + e^-x); int8 models apply it through a 256-entry lookup table.
        Sigmoid = 2,
    }
}

impl Variant {
    /// Its name in file names (`<stage>.<name>.mnef`), the trainer's metadata and the tools'
    /// arguments: `f32` or `i8`.
    pub const fn name(self) -> &'static str {
        match self {
            Variant::F32 => "f32",
            Variant::Int8 => "i8",
        }
    }

    /// The variant with that [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Variant::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Bytes per activation value.
    pub const fn activation_bytes(self) -> usize {
        match self {
            Variant::F32 => 4,
            Variant::Int8 => 1,
        }
    }

    /// Bytes per weight.
    pub const fn weight_bytes(self) -> usize {
        self.activation_bytes()
    }
}

/// An activation tensor's shape: channels x height x width (a vector is `n x 1 x 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    /// Channels (or features).
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

impl Shape {
    /// A vector of `n` values.
    pub const fn vector(n: usize) -> Self {
        Shape {
            channels: n,
            height: 1,
            width: 1,
        }
    }

    /// Values in the tensor, or `None` if the count does not fit a `usize` (three u16 fields
    /// multiply past 2^32 on a 32-bit target).
    pub const fn checked_len(&self) -> Option<usize> {
        match self.channels.checked_mul(self.height) {
            Some(plane) => plane.checked_mul(self.width),
            None => None,
        }
    }

    /// Values in the tensor, saturating at `usize::MAX` (so a huge shape never wraps to a
    /// small one).
    pub const fn len(&self) -> usize {
        match self.checked_len() {
            Some(n) => n,
            None => usize::MAX,
        }
    }

    /// True for a tensor with no values.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Geometry of a convolution: kernel, stride and symmetric padding. Other layers have none
/// ([`ConvGeometry::NONE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ConvGeometry {
    /// Square kernel side.
    pub kernel: usize,
    /// Stride on both axes.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
}

impl ConvGeometry {
    /// The geometry fields of a layer that is not a convolution: all zero.
    pub const NONE: ConvGeometry = ConvGeometry {
        kernel: 0,
        stride: 0,
        pad: 0,
    };

    /// Output side of the convolution over an input side, or `None` if the geometry is
    /// impossible (no kernel, no stride, or a kernel larger than the padded input).
    pub const fn output_side(&self, input: usize) -> Option<usize> {
        let padded = match self.pad.checked_mul(2) {
            Some(both) => input.checked_add(both),
            None => None,
        };
        match padded {
            Some(padded) if self.kernel > 0 && self.stride > 0 && padded >= self.kernel => {
                Some((padded - self.kernel) / self.stride + 1)
            }
            _ => None,
        }
    }
}

/// Affine quantisation of an int8 tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Quantization {
    /// Step between adjacent codes (> 0, finite).
    pub scale: f32,
    /// The code of real 0, in -128..=127.
    pub zero_point: i32,
}

impl Quantization {
    /// A usable quantisation: finite positive scale, zero point an int8 code.
    pub fn is_valid(&self) -> bool {
        self.scale.is_finite() && self.scale > 0.0 && (-128..=127).contains(&self.zero_point)
    }

    /// Equal bit for bit (what chaining layers requires; `==` on f32 is not that).
    pub fn same_bits(&self, other: &Quantization) -> bool {
        self.scale.to_bits() == other.scale.to_bits() && self.zero_point == other.zero_point
    }
}

/// Quantisation of an int8 model's input, fixed by the format: pixel / 256 with codes
/// `pixel - 128`, exact.
pub const INPUT_QUANTIZATION: Quantization = Quantization {
    scale: 1.0 / 256.0,
    zero_point: -128,
};
/// Zero point of an int8 sigmoid layer's pre-activation codes, fixed by the format. Their scale
/// is the exporter's choice: the requantisation table and the lookup table carry it, the
/// runtime never needs it.
pub const SIGMOID_INPUT_ZERO_POINT: i32 = 0;
/// Output quantisation of int8 sigmoid layers, fixed by the format: (0, 1) in steps of 1/256.
pub const SIGMOID_OUTPUT: Quantization = Quantization {
    scale: 1.0 / 256.0,
    zero_point: -128,
};
/// What f32 files put in the quantisation fields (the reader ignores them there).
pub const NO_QUANTIZATION: Quantization = Quantization {
    scale: 1.0,
    zero_point: 0,
};

/// A byte range of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Section {
    /// Offset from the start of the file.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Section {
    /// Checks the section lies inside a file of `file_len` bytes and, when not empty, starts
    /// at a multiple of `align`.
    pub fn check(&self, file_len: usize, align: usize) -> Result<(), SectionFault> {
        match self.offset.checked_add(self.len) {
            Some(end) if end <= file_len => {}
            _ => return Err(SectionFault::OutsideFile),
        }
        if self.len > 0 && !self.offset.is_multiple_of(align) {
            return Err(SectionFault::Misaligned);
        }
        Ok(())
    }

    /// The section's bytes in `file` (empty if it does not lie inside).
    pub fn of<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        self.offset
            .checked_add(self.len)
            .and_then(|end| file.get(self.offset..end))
            .unwrap_or_default()
    }
}

/// Something with a length in bytes: a section of a file, or the bytes to write into one.
pub trait ByteLen {
    /// Bytes.
    fn byte_len(&self) -> usize;
}

impl ByteLen for Section {
    fn byte_len(&self) -> usize {
        self.len
    }
}

impl ByteLen for usize {
    fn byte_len(&self) -> usize {
        *self
    }
}

impl ByteLen for &[u8] {
    fn byte_len(&self) -> usize {
        self.len()
    }
}

/// The four payload sections of a layer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PayloadSection {
    /// Conv OHWI or dense `[out][in]` weights.
    Weights,
    /// One f32 or i32 per output channel.
    Bias,
    /// int8: per output channel an i32 multiplier and an i32 shift.
    Requant,
    /// int8 sigmoid: 256 output codes.
    Lut,
}

impl PayloadSection {
    /// All four, in record order.
    pub const ALL: [PayloadSection; 4] = [
        PayloadSection::Weights,
        PayloadSection::Bias,
        PayloadSection::Requant,
        PayloadSection::Lut,
    ];

    /// Where the section's offset and length sit in a layer record.
    pub const fn field(self) -> Field {
        match self {
            PayloadSection::Weights => layer_record::WEIGHTS,
            PayloadSection::Bias => layer_record::BIAS,
            PayloadSection::Requant => layer_record::REQUANT,
            PayloadSection::Lut => layer_record::LUT,
        }
    }
}

/// A layer's payloads: byte ranges of a file (`P = Section`, what the parser finds), their
/// sizes (`P = usize`, what the format requires), or the bytes to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Payload<P> {
    /// Conv OHWI or dense `[out][in]` weights: f32 little-endian or int8.
    pub weights: P,
    /// f32 or i32 little-endian, one per output channel.
    pub bias: P,
    /// int8: per output channel an i32 multiplier then an i32 shift.
    pub requant: P,
    /// int8 sigmoid layers: 256 output codes indexed by pre-activation code + 128.
    pub lut: P,
}

impl<P> Payload<P> {
    /// The section named `which`.
    pub fn get(&self, which: PayloadSection) -> &P {
        match which {
            PayloadSection::Weights => &self.weights,
            PayloadSection::Bias => &self.bias,
            PayloadSection::Requant => &self.requant,
            PayloadSection::Lut => &self.lut,
        }
    }
}

/// One layer. The parser yields `Layer<Section>` (payloads as byte ranges of the file, read in
/// place); the writer takes the same struct with the payload bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Layer<P = Section> {
    /// What the layer computes.
    pub kind: LayerKind,
    /// Its output non-linearity.
    pub activation: Activation,
    /// Kernel, stride and padding (conv), or [`ConvGeometry::NONE`].
    pub geometry: ConvGeometry,
    /// Input shape (HWC in memory).
    pub input: Shape,
    /// Output shape (HWC in memory); the file stores only its channels, the rest follows from
    /// the kind and geometry ([`Layer::output_shape`]).
    pub output: Shape,
    /// Weights, biases, requantisation table, sigmoid table.
    pub payload: Payload<P>,
    /// int8: quantisation of the layer's input.
    pub input_quant: Quantization,
    /// int8: quantisation of the layer's output.
    pub output_quant: Quantization,
}

impl<P: ByteLen> Layer<P> {
    /// The output shape the kind and geometry give for this input and `output.channels`.
    pub fn output_shape(&self) -> Result<Shape, LayerFault> {
        let channels = self.output.channels;
        if channels == 0 {
            return Err(LayerFault::NoOutputs);
        }
        let geometry_unused = self.geometry == ConvGeometry::NONE;
        match self.kind {
            LayerKind::Conv2d => {
                let side = |s| self.geometry.output_side(s);
                match (side(self.input.height), side(self.input.width)) {
                    (Some(height), Some(width)) => Ok(Shape {
                        channels,
                        height,
                        width,
                    }),
                    _ => Err(LayerFault::ConvGeometry),
                }
            }
            LayerKind::Dense if !geometry_unused => Err(LayerFault::GeometryOnNonConv),
            LayerKind::Dense if self.input.height != 1 || self.input.width != 1 => {
                Err(LayerFault::DenseInputNotVector)
            }
            LayerKind::Dense => Ok(Shape::vector(channels)),
            LayerKind::Flatten if !geometry_unused => Err(LayerFault::GeometryOnNonConv),
            LayerKind::Flatten if self.input.checked_len() != Some(channels) => {
                Err(LayerFault::FlattenChangesSize)
            }
            LayerKind::Flatten => Ok(Shape::vector(channels)),
        }
    }

    /// The payload sizes the format requires of this layer in `variant`, with checked
    /// arithmetic (a crafted record must not wrap them on a 32-bit target).
    pub fn payload_sizes(&self, variant: Variant) -> Result<Payload<usize>, LayerFault> {
        let outputs = self.output.channels;
        let per_output = match self.kind {
            LayerKind::Conv2d => self
                .geometry
                .kernel
                .checked_mul(self.geometry.kernel)
                .and_then(|taps| taps.checked_mul(self.input.channels)),
            LayerKind::Dense => Some(self.input.channels),
            LayerKind::Flatten => return Ok(Payload::default()),
        };
        let weights = per_output
            .and_then(|n| n.checked_mul(outputs))
            .and_then(|n| n.checked_mul(variant.weight_bytes()));
        let (Some(weights), Some(bias), Some(requant)) =
            (weights, outputs.checked_mul(4), outputs.checked_mul(8))
        else {
            return Err(LayerFault::SizeOverflow);
        };
        let lut = match self.activation {
            Activation::Sigmoid => 256,
            Activation::Identity | Activation::Relu => 0,
        };
        Ok(match variant {
            Variant::F32 => Payload {
                weights,
                bias,
                requant: 0,
                lut: 0,
            },
            Variant::Int8 => Payload {
                weights,
                bias,
                requant,
                lut,
            },
        })
    }

    /// Everything the format requires of one layer on its own: its output shape follows from
    /// its kind and geometry, activations stay within [`MAX_ACTIVATION`], every payload has the
    /// size the format gives it, and int8 quantisations are valid (a flatten keeps its input's,
    /// a sigmoid outputs [`SIGMOID_OUTPUT`]). The parser and the writer both apply it.
    pub fn check(&self, variant: Variant) -> Result<(), LayerFault> {
        let output = self.output_shape()?;
        if output != self.output {
            return Err(LayerFault::OutputShape { expected: output });
        }
        for shape in [self.input, self.output] {
            match shape.checked_len() {
                Some(values) if values <= MAX_ACTIVATION => {}
                _ => return Err(LayerFault::ActivationTooLarge),
            }
        }
        if self.kind == LayerKind::Flatten && self.activation != Activation::Identity {
            return Err(LayerFault::FlattenWithActivation);
        }
        let sizes = self.payload_sizes(variant)?;
        for section in PayloadSection::ALL {
            let (expected, found) = (*sizes.get(section), self.payload.get(section).byte_len());
            if expected != found {
                return Err(LayerFault::PayloadSize {
                    section,
                    expected,
                    found,
                });
            }
        }
        match variant {
            Variant::F32 => Ok(()),
            Variant::Int8 => self.check_int8_quantization(),
        }
    }

    fn check_int8_quantization(&self) -> Result<(), LayerFault> {
        if !(self.input_quant.is_valid() && self.output_quant.is_valid()) {
            return Err(LayerFault::Quantization);
        }
        match (self.kind, self.activation) {
            (LayerKind::Flatten, _) if !self.input_quant.same_bits(&self.output_quant) => {
                Err(LayerFault::FlattenRequantizes)
            }
            (LayerKind::Conv2d | LayerKind::Dense, Activation::Sigmoid)
                if !self.output_quant.same_bits(&SIGMOID_OUTPUT) =>
            {
                Err(LayerFault::SigmoidOutputQuantization)
            }
            (LayerKind::Flatten, _)
            | (LayerKind::Conv2d | LayerKind::Dense, Activation::Sigmoid)
            | (LayerKind::Conv2d | LayerKind::Dense, Activation::Identity | Activation::Relu) => {
                Ok(())
            }
        }
    }
}

/// The bytes of `field` in `buffer` as an array (zeros if the buffer is too short, which the
/// views' checked constructors rule out).
fn read<const N: usize>(buffer: &[u8], field: Field) -> [u8; N] {
    buffer
        .get(field)
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or([0; N])
}

/// Writes `bytes` into `field` of `buffer` (nothing if the buffer is too short).
fn write(buffer: &mut [u8], field: Field, bytes: &[u8]) {
    if let Some(dst) = buffer.get_mut(field)
        && dst.len() == bytes.len()
    {
        dst.copy_from_slice(bytes);
    }
}

/// The one-byte field at `at`.
const fn byte(at: usize) -> Field {
    at..at + 1
}

fn read_u16(buffer: &[u8], field: Field) -> usize {
    usize::from(u16::from_le_bytes(read(buffer, field)))
}

fn read_u32(buffer: &[u8], field: Field) -> u32 {
    u32::from_le_bytes(read(buffer, field))
}

/// A section field: u32 offset then u32 length (saturating to `usize::MAX` where a `usize`
/// is narrower, which makes the section fall outside any file).
fn read_section(buffer: &[u8], field: Field) -> Section {
    let start = field.start;
    let value = |at: usize| usize::try_from(read_u32(buffer, at..at + 4)).unwrap_or(usize::MAX);
    Section {
        offset: value(start),
        len: value(start + 4),
    }
}

fn write_section(buffer: &mut [u8], field: Field, offset: u32, len: u32) {
    let start = field.start;
    write(buffer, start..start + 4, &offset.to_le_bytes());
    write(buffer, start + 4..start + 8, &len.to_le_bytes());
}

fn read_quantization(buffer: &[u8], field: Field) -> Quantization {
    let start = field.start;
    Quantization {
        scale: f32::from_le_bytes(read(buffer, start..start + 4)),
        zero_point: i32::from_le_bytes(read(buffer, start + 4..start + 8)),
    }
}

fn write_quantization(buffer: &mut [u8], field: Field, q: Quantization) {
    let start = field.start;
    write(buffer, start..start + 4, &q.scale.to_le_bytes());
    write(buffer, start + 4..start + 8, &q.zero_point.to_le_bytes());
}

/// Declares a zero-copy view over a byte buffer holding a record of `$len` bytes: its checked
/// and unchecked constructors and its raw bytes; getters and setters come in its own impls.
macro_rules! record_view {
    ($(#[$meta:meta])* $name:ident, $len:expr, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<T> {
            buffer: T,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// A view without a length check: getters of a short buffer read zeros.
            pub const fn new_unchecked(buffer: T) -> Self {
                $name { buffer }
            }

            #[doc = concat!("A view of a buffer that holds at least ", $what, ".")]
            pub fn new_checked(buffer: T) -> Result<Self, ParseError> {
                let len = buffer.as_ref().len();
                if len < $len {
                    return Err(ParseError::TooShort { len, needed: $len });
                }
                Ok($name { buffer })
            }

            /// The buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            fn bytes(&self) -> &[u8] {
                self.buffer.as_ref()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            fn bytes_mut(&mut self) -> &mut [u8] {
                self.buffer.as_mut()
            }
        }
    };
}

record_view!(
    /// A zero-copy view of the header at the start of a buffer.
    HeaderView,
    header::LEN,
    "a header"
);

record_view!(
    /// A zero-copy view of one 64-byte layer record.
    LayerView,
    layer_record::LEN,
    "one layer record"
);

impl<T: AsRef<[u8]>> HeaderView<T> {
    /// The magic bytes.
    pub fn magic(&self) -> [u8; 4] {
        read(self.bytes(), header::MAGIC)
    }

    /// The format version.
    pub fn version(&self) -> u16 {
        u16::from_le_bytes(read(self.bytes(), header::VERSION))
    }

    /// The variant code.
    pub fn variant_code(&self) -> u8 {
        read::<1>(self.bytes(), byte(header::VARIANT))[0]
    }

    /// The number of layer records.
    pub fn layer_count(&self) -> usize {
        usize::from(read::<1>(self.bytes(), byte(header::LAYER_COUNT))[0])
    }

    /// The file length the header declares.
    pub fn file_len(&self) -> u32 {
        read_u32(self.bytes(), header::FILE_LEN)
    }

    /// The stored CRC.
    pub fn crc(&self) -> u32 {
        read_u32(self.bytes(), header::CRC)
    }

    /// The model's input shape.
    pub fn input(&self) -> Shape {
        let b = self.bytes();
        Shape {
            channels: read_u16(b, header::INPUT_CHANNELS),
            height: read_u16(b, header::INPUT_HEIGHT),
            width: read_u16(b, header::INPUT_WIDTH),
        }
    }

    /// The number of classes.
    pub fn classes(&self) -> usize {
        read_u16(self.bytes(), header::CLASSES)
    }

    /// The metadata section.
    pub fn metadata(&self) -> Section {
        read_section(self.bytes(), header::METADATA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> HeaderView<T> {
    /// Sets the magic bytes.
    pub fn set_magic(&mut self, magic: [u8; 4]) {
        write(self.bytes_mut(), header::MAGIC, &magic);
    }

    /// Sets the format version.
    pub fn set_version(&mut self, version: u16) {
        write(self.bytes_mut(), header::VERSION, &version.to_le_bytes());
    }

    /// Sets the variant.
    pub fn set_variant(&mut self, variant: Variant) {
        write(self.bytes_mut(), byte(header::VARIANT), &[variant.code()]);
    }

    /// Sets the number of layer records.
    pub fn set_layer_count(&mut self, count: u8) {
        write(self.bytes_mut(), byte(header::LAYER_COUNT), &[count]);
    }

    /// Sets the file length.
    pub fn set_file_len(&mut self, len: u32) {
        write(self.bytes_mut(), header::FILE_LEN, &len.to_le_bytes());
    }

    /// Sets the stored CRC.
    pub fn set_crc(&mut self, crc: u32) {
        write(self.bytes_mut(), header::CRC, &crc.to_le_bytes());
    }

    /// Sets the input shape.
    pub fn set_input(&mut self, channels: u16, height: u16, width: u16) {
        let b = self.bytes_mut();
        write(b, header::INPUT_CHANNELS, &channels.to_le_bytes());
        write(b, header::INPUT_HEIGHT, &height.to_le_bytes());
        write(b, header::INPUT_WIDTH, &width.to_le_bytes());
    }

    /// Sets the number of classes.
    pub fn set_classes(&mut self, classes: u16) {
        write(self.bytes_mut(), header::CLASSES, &classes.to_le_bytes());
    }

    /// Sets the metadata section.
    pub fn set_metadata(&mut self, offset: u32, len: u32) {
        write_section(self.bytes_mut(), header::METADATA, offset, len);
    }
}

impl<T: AsRef<[u8]>> LayerView<T> {
    fn byte(&self, at: usize) -> u8 {
        read::<1>(self.bytes(), byte(at))[0]
    }

    /// The layer kind code.
    pub fn kind_code(&self) -> u8 {
        self.byte(layer_record::KIND)
    }

    /// The activation code.
    pub fn activation_code(&self) -> u8 {
        self.byte(layer_record::ACTIVATION)
    }

    /// Kernel, stride and padding.
    pub fn geometry(&self) -> ConvGeometry {
        ConvGeometry {
            kernel: usize::from(self.byte(layer_record::KERNEL)),
            stride: usize::from(self.byte(layer_record::STRIDE)),
            pad: usize::from(self.byte(layer_record::PAD)),
        }
    }

    /// The reserved bytes (zero in a valid record).
    pub fn reserved(&self) -> [u8; 3] {
        read(self.bytes(), layer_record::RESERVED)
    }

    /// The declared input shape.
    pub fn input(&self) -> Shape {
        let b = self.bytes();
        Shape {
            channels: read_u16(b, layer_record::INPUT_CHANNELS),
            height: read_u16(b, layer_record::INPUT_HEIGHT),
            width: read_u16(b, layer_record::INPUT_WIDTH),
        }
    }

    /// Output channels (dense: features).
    pub fn output_channels(&self) -> usize {
        read_u16(self.bytes(), layer_record::OUTPUT_CHANNELS)
    }

    /// A payload section.
    pub fn section(&self, which: PayloadSection) -> Section {
        read_section(self.bytes(), which.field())
    }

    /// All four payload sections.
    pub fn payload(&self) -> Payload<Section> {
        Payload {
            weights: self.section(PayloadSection::Weights),
            bias: self.section(PayloadSection::Bias),
            requant: self.section(PayloadSection::Requant),
            lut: self.section(PayloadSection::Lut),
        }
    }

    /// The input quantisation.
    pub fn input_quant(&self) -> Quantization {
        read_quantization(self.bytes(), layer_record::INPUT_QUANT)
    }

    /// The output quantisation.
    pub fn output_quant(&self) -> Quantization {
        read_quantization(self.bytes(), layer_record::OUTPUT_QUANT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LayerView<T> {
    /// Sets the kind.
    pub fn set_kind(&mut self, kind: LayerKind) {
        write(self.bytes_mut(), byte(layer_record::KIND), &[kind.code()]);
    }

    /// Sets the activation.
    pub fn set_activation(&mut self, activation: Activation) {
        let code = activation.code();
        write(self.bytes_mut(), byte(layer_record::ACTIVATION), &[code]);
    }

    /// Sets kernel, stride and padding.
    pub fn set_geometry(&mut self, kernel: u8, stride: u8, pad: u8) {
        let b = self.bytes_mut();
        write(b, byte(layer_record::KERNEL), &[kernel]);
        write(b, byte(layer_record::STRIDE), &[stride]);
        write(b, byte(layer_record::PAD), &[pad]);
    }

    /// Sets the input shape.
    pub fn set_input(&mut self, channels: u16, height: u16, width: u16) {
        let b = self.bytes_mut();
        write(b, layer_record::INPUT_CHANNELS, &channels.to_le_bytes());
        write(b, layer_record::INPUT_HEIGHT, &height.to_le_bytes());
        write(b, layer_record::INPUT_WIDTH, &width.to_le_bytes());
    }

    /// Sets the output channels.
    pub fn set_output_channels(&mut self, channels: u16) {
        let bytes = channels.to_le_bytes();
        write(self.bytes_mut(), layer_record::OUTPUT_CHANNELS, &bytes);
    }

    /// Sets a payload section.
    pub fn set_section(&mut self, which: PayloadSection, offset: u32, len: u32) {
        write_section(self.bytes_mut(), which.field(), offset, len);
    }

    /// Sets the input quantisation.
    pub fn set_input_quant(&mut self, q: Quantization) {
        write_quantization(self.bytes_mut(), layer_record::INPUT_QUANT, q);
    }

    /// Sets the output quantisation.
    pub fn set_output_quant(&mut self, q: Quantization) {
        write_quantization(self.bytes_mut(), layer_record::OUTPUT_QUANT, q);
    }
}

/// The parsed fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Number format.
    pub variant: Variant,
    /// Layers in the table.
    pub layer_count: usize,
    /// Total file length.
    pub file_len: usize,
    /// The model's input shape.
    pub input: Shape,
    /// Number of output classes.
    pub classes: usize,
    /// UTF-8 `key=value` lines.
    pub metadata: Section,
}

/// The CRC-32 of a whole file, as its header stores it.
pub fn file_crc(file: &[u8]) -> u32 {
    crc32(file.get(CRC_START..).unwrap_or_default())
}

/// Parses and checks the header, including the file length and the CRC.
pub fn parse_header(bytes: &[u8]) -> Result<Header, ParseError> {
    let view = HeaderView::new_checked(bytes)?;
    if view.magic() != MAGIC {
        return Err(ParseError::BadMagic);
    }
    if view.version() != VERSION {
        return Err(ParseError::UnsupportedVersion(view.version()));
    }
    let code = view.variant_code();
    let variant = Variant::from_code(code).ok_or(ParseError::UnknownVariant(code))?;
    let layer_count = view.layer_count();
    if layer_count == 0 || layer_count > MAX_LAYERS {
        return Err(ParseError::BadLayerCount(layer_count));
    }
    let declared = view.file_len();
    if usize::try_from(declared).ok() != Some(bytes.len()) {
        return Err(ParseError::LengthMismatch {
            header: declared,
            actual: bytes.len(),
        });
    }
    if !bytes.len().is_multiple_of(SECTION_ALIGN) {
        return Err(ParseError::LengthNotAligned { len: bytes.len() });
    }
    let (stored, computed) = (view.crc(), file_crc(bytes));
    if stored != computed {
        return Err(ParseError::CrcMismatch { stored, computed });
    }
    let (input, classes, metadata) = (view.input(), view.classes(), view.metadata());
    if input.is_empty() || classes == 0 {
        return Err(ParseError::BadInputShape);
    }
    metadata
        .check(bytes.len(), 1)
        .map_err(|fault| ParseError::BadMetadata {
            section: metadata,
            fault,
        })?;
    if core::str::from_utf8(metadata.of(bytes)).is_err() {
        return Err(ParseError::BadMetadata {
            section: metadata,
            fault: SectionFault::NotUtf8,
        });
    }
    let table_end = HEADER_LEN + layer_count * LAYER_RECORD_LEN;
    if table_end > bytes.len() {
        return Err(ParseError::TooShort {
            len: bytes.len(),
            needed: table_end,
        });
    }
    Ok(Header {
        variant,
        layer_count,
        file_len: bytes.len(),
        input,
        classes,
        metadata,
    })
}

/// Parses layer record `index` and checks it against the input shape it receives.
pub fn parse_layer(
    bytes: &[u8],
    header: &Header,
    index: usize,
    input: Shape,
) -> Result<Layer, ParseError> {
    let base = HEADER_LEN + index * LAYER_RECORD_LEN;
    let record = bytes.get(base..base + LAYER_RECORD_LEN).unwrap_or_default();
    let view = LayerView::new_checked(record).map_err(|_| ParseError::TooShort {
        len: bytes.len(),
        needed: base + LAYER_RECORD_LEN,
    })?;
    let bad = |fault| ParseError::BadLayer {
        layer: index,
        fault,
    };
    let kind = LayerKind::from_code(view.kind_code()).ok_or(ParseError::UnknownLayerKind {
        layer: index,
        kind: view.kind_code(),
    })?;
    let activation =
        Activation::from_code(view.activation_code()).ok_or(ParseError::UnknownActivation {
            layer: index,
            activation: view.activation_code(),
        })?;
    if view.reserved() != [0; 3] {
        return Err(bad(LayerFault::ReservedNotZero));
    }
    let declared = view.input();
    if declared != input {
        return Err(ParseError::ShapeMismatch {
            layer: index,
            expected: input,
            declared,
        });
    }
    let mut layer = Layer {
        kind,
        activation,
        geometry: view.geometry(),
        input: declared,
        output: Shape::vector(view.output_channels()),
        payload: view.payload(),
        input_quant: view.input_quant(),
        output_quant: view.output_quant(),
    };
    layer.output = layer.output_shape().map_err(bad)?;
    layer.check(header.variant).map_err(bad)?;
    for section in PayloadSection::ALL {
        let range = *layer.payload.get(section);
        range
            .check(bytes.len(), SECTION_ALIGN)
            .map_err(|fault| ParseError::BadSection {
                layer: index,
                section,
                offset: range.offset,
                len: range.len,
                fault,
            })?;
    }
    Ok(layer)
}
