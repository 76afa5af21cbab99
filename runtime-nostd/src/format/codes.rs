//! The values a file stores as one-byte codes: the number format ([`Variant`]), what a layer
//! computes ([`LayerKind`]) and its non-linearity ([`Activation`]), each with both directions
//! of its mapping generated from one list.

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
