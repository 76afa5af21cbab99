//! A 64-byte layer record: its field map and the zero-copy view the parser reads it with and
//! the writer sets it through.

use super::bytes::{
    Field, byte, read, read_quantization, read_section, read_u16, record_view, write,
    write_quantization, write_section,
};
use super::codes::{Activation, LayerKind};
use super::section::{Payload, PayloadSection, Section};
use super::tensor::{ConvGeometry, Quantization, Shape};

/// Size of one layer record.
pub const LAYER_RECORD_LEN: usize = field::LEN;

/// A layer record, field by field (FORMAT.md, "Layer record").
pub mod field {
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

impl PayloadSection {
    /// Where the section's offset and length sit in a layer record.
    pub const fn field(self) -> Field {
        match self {
            PayloadSection::Weights => field::WEIGHTS,
            PayloadSection::Bias => field::BIAS,
            PayloadSection::Requant => field::REQUANT,
            PayloadSection::Lut => field::LUT,
        }
    }
}

record_view!(
    /// A zero-copy view of one 64-byte layer record.
    LayerView,
    field::LEN,
    "one layer record"
);

impl<T: AsRef<[u8]>> LayerView<T> {
    fn byte(&self, at: usize) -> u8 {
        read::<1>(self.bytes(), byte(at))[0]
    }

    /// The layer kind code.
    pub fn kind_code(&self) -> u8 {
        self.byte(field::KIND)
    }

    /// The activation code.
    pub fn activation_code(&self) -> u8 {
        self.byte(field::ACTIVATION)
    }

    /// Kernel, stride and padding.
    pub fn geometry(&self) -> ConvGeometry {
        ConvGeometry {
            kernel: usize::from(self.byte(field::KERNEL)),
            stride: usize::from(self.byte(field::STRIDE)),
            pad: usize::from(self.byte(field::PAD)),
        }
    }

    /// The reserved bytes (zero in a valid record).
    pub fn reserved(&self) -> [u8; 3] {
        read(self.bytes(), field::RESERVED)
    }

    /// The declared input shape.
    pub fn input(&self) -> Shape {
        let b = self.bytes();
        Shape {
            channels: read_u16(b, field::INPUT_CHANNELS),
            height: read_u16(b, field::INPUT_HEIGHT),
            width: read_u16(b, field::INPUT_WIDTH),
        }
    }

    /// Output channels (dense: features).
    pub fn output_channels(&self) -> usize {
        read_u16(self.bytes(), field::OUTPUT_CHANNELS)
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
        read_quantization(self.bytes(), field::INPUT_QUANT)
    }

    /// The output quantisation.
    pub fn output_quant(&self) -> Quantization {
        read_quantization(self.bytes(), field::OUTPUT_QUANT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LayerView<T> {
    /// Sets the kind.
    pub fn set_kind(&mut self, kind: LayerKind) {
        write(self.bytes_mut(), byte(field::KIND), &[kind.code()]);
    }

    /// Sets the activation.
    pub fn set_activation(&mut self, activation: Activation) {
        let code = activation.code();
        write(self.bytes_mut(), byte(field::ACTIVATION), &[code]);
    }

    /// Sets kernel, stride and padding.
    pub fn set_geometry(&mut self, kernel: u8, stride: u8, pad: u8) {
        let b = self.bytes_mut();
        write(b, byte(field::KERNEL), &[kernel]);
        write(b, byte(field::STRIDE), &[stride]);
        write(b, byte(field::PAD), &[pad]);
    }

    /// Sets the input shape.
    pub fn set_input(&mut self, channels: u16, height: u16, width: u16) {
        let b = self.bytes_mut();
        write(b, field::INPUT_CHANNELS, &channels.to_le_bytes());
        write(b, field::INPUT_HEIGHT, &height.to_le_bytes());
        write(b, field::INPUT_WIDTH, &width.to_le_bytes());
    }

    /// Sets the output channels.
    pub fn set_output_channels(&mut self, channels: u16) {
        let bytes = channels.to_le_bytes();
        write(self.bytes_mut(), field::OUTPUT_CHANNELS, &bytes);
    }

    /// Sets a payload section.
    pub fn set_section(&mut self, which: PayloadSection, offset: u32, len: u32) {
        write_section(self.bytes_mut(), which.field(), offset, len);
    }

    /// Sets the input quantisation.
    pub fn set_input_quant(&mut self, q: Quantization) {
        write_quantization(self.bytes_mut(), field::INPUT_QUANT, q);
    }

    /// Sets the output quantisation.
    pub fn set_output_quant(&mut self, q: Quantization) {
        write_quantization(self.bytes_mut(), field::OUTPUT_QUANT, q);
    }
}
