//! Where the initial weights come from: the CPU backend's generator, in the order a model made
//! on flex draws them, as parameters of their own on the training device
//! (`trainer::train::initial_model`).
//!
//! burn's RNG is process-global, so these checks live alone in their own test binary and run
//! one after the other in one test.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use trainer::data::{CLASSES, IMAGE_SIDE};
use trainer::model::Model;
use trainer::stages::Stage;
use trainer::train::initial_model;

/// Every float parameter's values, in visiting order.
struct ParamValues(Vec<Vec<f32>>);

impl ModuleVisitor for ParamValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param.val().into_data().try_to_vec::<f32>().expect("f32");
        self.0.push(values);
    }
}

fn param_values(model: &Model) -> Vec<Vec<f32>> {
    let mut values = ParamValues(Vec::new());
    model.visit(&mut values);
    values.0
}

fn images(device: &Device) -> Tensor<4> {
    Tensor::ones([2, 1, IMAGE_SIDE, IMAGE_SIDE], device)
}

#[test]
fn initial_weights_are_the_seeded_host_draw_in_flex_order_as_trainable_leaves() {
    let device = Device::flex().autodiff();

    // The seeded draw: the same values as a model made on the host with that seed.
    let stage = Stage::named("dense-relu-adam");
    let model = initial_model(stage, CLASSES, 3, &device);
    // Read before the reference is made: both draw lazily, from one global generator.
    let values = param_values(&model);
    Device::flex().seed(3);
    let reference = stage.net().init(&Device::flex().autodiff());
    assert!(
        values == param_values(&reference),
        "not the seeded host draw"
    );

    // Trainable: a gradient for every parameter (the parameters are leaves of their own).
    let loss = model.forward(images(&device)).sum();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    assert_eq!(grads.len(), values.len(), "parameters without a gradient");

    // In flex's order: in dense-dropout the layers' weights and the dropout masks interleave in
    // the first forward pass, so drawing the weights at any other time changes the run.
    let stage = Stage::named("dense-dropout");
    Device::flex().seed(5);
    let made_on_flex = stage.net().init(&device).forward(images(&device));
    let initial = initial_model(stage, CLASSES, 5, &device).forward(images(&device));
    assert!(
        initial.into_data() == made_on_flex.into_data(),
        "the first forward pass differs from a model made on flex"
    );
}
