//! The convolution's tests: its geometry, burn's own convolution as the reference forward and
//! backward, the shapes it refuses, and results that do not depend on the thread count.

use super::*;
use crate::flex_kernels::tests::{assert_close, assert_gradient_close};

#[test]
fn taps_inside_skip_the_padding() {
    let g = Geometry::new(&Shape::from([1, 1, 28, 28]), 6, 2, 2);
    // Output 0 starts 2 pixels into the padding: taps 2..6 read pixels 0..4.
    assert_eq!(g.taps_inside(0, 28), (2..6, 0));
    assert_eq!(g.taps_inside(1, 28), (0..6, 0));
    // Output 13 starts at pixel 24: taps 0..4 read 24..28, the rest is padding.
    assert_eq!(g.taps_inside(13, 28), (0..4, 24));
    assert_eq!(g.out_width(), 14);
}

#[test]
fn outputs_inside_skip_the_padding() {
    let g = Geometry::new(&Shape::from([1, 1, 28, 28]), 6, 2, 2);
    // Tap 0 reads 2 pixels before each output's origin: output 0 reads the padding.
    assert_eq!(g.outputs_inside(0, 28, 14), (1..14, 0));
    // Tap 5 reads origin + 3: output 13 (pixel 29) is in the padding.
    assert_eq!(g.outputs_inside(5, 28, 14), (0..13, 3));
    assert_eq!(g.outputs_inside(2, 28, 14), (0..14, 0));
}

#[test]
fn matches_burns_convolution_forward_and_backward() {
    use burn::tensor::Distribution;
    use burn::tensor::module::conv2d as burn_conv2d;
    use burn::tensor::ops::ConvOptions;
    let device = burn::tensor::Device::flex().autodiff();
    device.seed(3);
    // (batch, channels, height, width, outputs, kernel, stride, padding): the codelab's three
    // layers (the second and third over several chunks), stride 1 over several channels and
    // chunks, no padding, stride 3, a non-square image, a kernel as large as the padded
    // image, 1x1, padding as large as the kernel (stride 1 and 2), a stride over the kernel
    // (pixels skipped). Stride 1 has tap-ordered columns, the others pixel-ordered.
    for (batch, c, h, w, o, k, s, p) in [
        (5, 1, 28, 28, 12, 3, 1, 1),
        (300, 3, 12, 12, 7, 5, 1, 2),
        (7, 12, 28, 28, 24, 6, 2, 2),
        (9, 24, 14, 14, 32, 6, 2, 2),
        (3, 4, 9, 9, 5, 3, 1, 0),
        (2, 3, 11, 7, 4, 4, 3, 1),
        (2, 2, 3, 3, 3, 5, 1, 1),
        (4, 3, 5, 5, 2, 1, 1, 0),
        (3, 2, 7, 7, 3, 3, 1, 3),
        (3, 2, 8, 6, 3, 2, 2, 4),
        (2, 3, 10, 11, 4, 2, 3, 0),
    ] {
        let input =
            Tensor::<4>::random([batch, c, h, w], Distribution::Default, &device).require_grad();
        let weight =
            Tensor::<4>::random([o, c, k, k], Distribution::Default, &device).require_grad();
        let options = ConvOptions::new([s, s], [p, p], [1, 1], 1);
        let ours = conv2d(input.clone(), weight.clone(), s, p);
        let theirs = burn_conv2d(input.clone(), weight.clone(), None, options);
        assert_eq!(ours.dims(), theirs.dims());
        let case = format!("{batch}x{c}x{h}x{w} -> {o}, k{k} s{s} p{p}");
        assert_close(&case, "forward", ours.clone(), theirs.clone(), 1e-5);
        // A loss that weighs every output differently, so no gradient is trivially uniform.
        let weights = Tensor::<4>::random(ours.shape(), Distribution::Default, &device);
        let ours = (ours * weights.clone()).sum().backward();
        let theirs = (theirs * weights).sum().backward();
        for (name, param) in [("input", &input), ("weight", &weight)] {
            assert_gradient_close(&case, name, param.grad(&ours), param.grad(&theirs), 1e-5);
        }
    }
}

/// `conv2d` on zeros of these shapes.
fn conv_of(input: [usize; 4], weight: [usize; 4], stride: usize) {
    let device = burn::tensor::Device::flex();
    let _ = conv2d(
        Tensor::<4>::zeros(input, &device),
        Tensor::<4>::zeros(weight, &device),
        stride,
        0,
    );
}

#[test]
#[should_panic(expected = "stride 0")]
fn a_stride_of_zero_is_refused() {
    conv_of([1, 1, 5, 5], [2, 1, 3, 3], 0);
}

#[test]
#[should_panic(expected = "not square")]
fn a_kernel_that_is_not_square_is_refused() {
    conv_of([1, 1, 5, 5], [2, 1, 3, 2], 1);
}

#[test]
#[should_panic(expected = "weights for 2 input channels, the input has 3")]
fn weights_for_other_channels_are_refused() {
    conv_of([1, 3, 5, 5], [2, 2, 3, 3], 1);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    use burn::tensor::Distribution;
    let device = burn::tensor::Device::flex().autodiff();
    device.seed(5);
    let input =
        Tensor::<4>::random([11, 12, 28, 28], Distribution::Default, &device).require_grad();
    let weight = Tensor::<4>::random([24, 12, 6, 6], Distribution::Default, &device).require_grad();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let y = conv2d(input.clone(), weight.clone(), 2, 2);
            let grads = (y.clone() * y.clone()).sum().backward();
            (
                y.into_data(),
                input.grad(&grads).expect("input gradient").into_data(),
                weight.grad(&grads).expect("weight gradient").into_data(),
            )
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn the_layer_is_burns_conv2d_with_its_bias_whichever_path_it_takes() {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::Distribution;
    let device = burn::tensor::Device::flex();
    device.seed(5);
    // Square with symmetric padding (this module's kernels), then asymmetric padding and a
    // non-square kernel (burn's Conv2d): the same function either way.
    let square = Conv2dConfig::new([3, 8], [4, 4])
        .with_stride([2, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(&device);
    let other = Conv2dConfig::new([3, 8], [3, 2])
        .with_padding(PaddingConfig2d::Explicit(1, 0, 1, 0))
        .init(&device);
    assert_eq!(super::square(&square), Some((2, 1)));
    assert_eq!(super::square(&other), None);
    for (case, layer) in [("square", &square), ("other", &other)] {
        let x = Tensor::<4>::random([2, 3, 12, 12], Distribution::Default, &device);
        let ours = conv2d_layer(layer, x.clone());
        let theirs = layer.forward(x);
        assert_eq!(ours.dims(), theirs.dims(), "{case}");
        assert_close(case, "output", ours, theirs, 1e-5);
    }
}
