//! What a layer's activations are: their [`Shape`], the [`ConvGeometry`] that turns one shape
//! into the next, and the affine [`Quantization`] of int8 tensors with the values the format
//! fixes.

use core::fmt;

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

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}
