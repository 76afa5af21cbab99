//! Training kernels for the `flex` CPU backend where burn's generic ones leave the cores idle
//! or copy too much: the convolution ([`conv`]) and batch norm ([`batch_norm`]), each a burn
//! backend extension with its own backward pass, computing the same function as burn's layer
//! with the same parameters (checked against burn in their tests).
//!
//! The network calls [`conv::conv2d`] and [`batch_norm::batch_norm`] when its tensors are on
//! `flex` ([`is_flex`]); on a GPU it keeps burn's layers.

use std::borrow::Cow;

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::{Device, Shape, TensorData};

pub mod batch_norm;
pub mod conv;

/// Whether tensors on `device` compute on the `flex` CPU backend (with or without autodiff):
/// where the kernels of this module run.
pub fn is_flex(device: &Device) -> bool {
    matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    )
}

fn flex_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// A tensor's values in row-major order, borrowed when it is already laid out so.
fn f32_values(tensor: &FlexTensor) -> Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(tensor.to_contiguous().storage::<f32>().to_vec()),
    }
}
