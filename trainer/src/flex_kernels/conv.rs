//! Convolution for training on the `flex` CPU backend: im2col + matmuls for the forward pass
//! and for each gradient, as a burn backend extension with its own backward pass.
//!
//! Why: burn 0.22's `flex` computes the forward convolution itself, but its backward pass comes
//! from burn's generic decomposition (the weight gradient as a convolution with batch and
//! channels swapped, the input gradient as a transposed convolution), whose units of parallel
//! work are the layer's input channels: 1, 12 and 24 in the codelab's CNN. Here the forward pass
//! unfolds each image into a column matrix `cols` (a row per kernel tap, a column per output
//! position, in one of two memory orders: [`ColumnOrder`]), keeps it for the backward pass, and
//! each direction is a matmul:
//!
//! - forward: `Y[O, P] = W[O, taps] x cols[taps, P]`, with `P` the output positions
//! - weight gradient: `dW = sum over images of dY[O, P] x cols^T`
//! - input gradient: `dcols = W^T x dY` per image, summed back onto the input pixels (col2im).
//!
//! The matmuls run through [`super::matmul`] on strided views, so `cols^T`, `W^T` and an
//! image's channels-first gradient are read where they lie, with no copy.
//!
//! The batch is cut into chunks of a few images whose columns stay in cache (about
//! [`CHUNK_COLUMN_BYTES`]); chunks run in parallel on all cores and the weight gradient is the
//! sum of the chunks' in chunk order, so results do not depend on the number of threads.
//! Tensors are channels-first like burn's `Conv2d` (a drop-in: same parameters, same layout).

use std::borrow::Cow;
use std::ops::Range;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, DType, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Shape, Tensor};

use super::matmul::{Strided, matmul};
use super::{f32_values, flex_tensor};
use rayon::prelude::*;

/// Column-matrix bytes per chunk of images: about what a core's cache holds, so a chunk is
/// unfolded, multiplied and (backward) folded back without a round trip to memory. The
/// codelab's second convolution needs 339 KB of columns per image: 3 images per chunk.
pub const CHUNK_COLUMN_BYTES: usize = 1 << 20;

/// How an image's column matrix lies in memory; [`Geometry::order`] picks one per layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnOrder {
    /// `[P, k*k*C]`: a row per output position, (kernel row, kernel column, channel) along it,
    /// unfolded from channels-last images, where a kernel row is one run of `k * C` pixels to
    /// copy. For strided layers, where a tap's pixels are not contiguous in any image row.
    Pixels,
    /// `[C*k*k, P]` (Caffe's): a row per tap in the order of burn's weight `[O, C, k, k]`,
    /// unfolded from channels-first images; with stride 1 a tap's row is runs of `out_w`
    /// contiguous pixels, and the weight, output and gradients need no reordering.
    Taps,
}

/// One square convolution over a batch: every size the unfolding needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    batch: usize,
    height: usize,
    width: usize,
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Geometry {
    /// For an input of shape `[batch, channels, height, width]`.
    fn new(input: &Shape, kernel: usize, stride: usize, padding: usize) -> Self {
        Geometry {
            batch: input[0],
            channels: input[1],
            height: input[2],
            width: input[3],
            kernel,
            stride,
            padding,
        }
    }

    /// Taps for stride 1 (the codelab's first layer: 3x3 over one channel, whose pixel-ordered
    /// rows would be runs of 3), pixels otherwise.
    fn order(&self) -> ColumnOrder {
        match self.stride {
            1 => ColumnOrder::Taps,
            _ => ColumnOrder::Pixels,
        }
    }

    /// One image's column matrix as `[taps, P]`, whichever its order.
    fn columns_view(&self) -> Strided {
        let (taps, positions) = (self.taps(), self.positions());
        match self.order() {
            ColumnOrder::Pixels => Strided::row_major(positions, taps).transposed(),
            ColumnOrder::Taps => Strided::row_major(taps, positions),
        }
    }

    fn columns_len(&self) -> usize {
        self.taps() * self.positions()
    }

    fn with_batch(self, batch: usize) -> Self {
        Geometry { batch, ..self }
    }

    fn out_size(&self, size: usize) -> usize {
        (size + 2 * self.padding).saturating_sub(self.kernel) / self.stride + 1
    }

    fn out_height(&self) -> usize {
        self.out_size(self.height)
    }

    fn out_width(&self) -> usize {
        self.out_size(self.width)
    }

    /// Kernel taps: one per (kernel row, kernel column, channel).
    fn taps(&self) -> usize {
        self.kernel * self.kernel * self.channels
    }

    /// Rows of a pixel-ordered column matrix: every output position of every image.
    fn rows(&self) -> usize {
        self.batch * self.out_height() * self.out_width()
    }

    fn image_len(&self) -> usize {
        self.height * self.width * self.channels
    }

    fn positions(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Images per chunk: [`CHUNK_COLUMN_BYTES`] of columns, at least one image.
    fn images_per_chunk(&self) -> usize {
        let bytes = self.columns_len() * std::mem::size_of::<f32>();
        (CHUNK_COLUMN_BYTES / bytes.max(1)).max(1)
    }

    fn output_len(&self, outputs: usize) -> usize {
        outputs * self.positions()
    }

    /// For output coordinate `out` along an axis of `size` pixels: the kernel taps that land
    /// inside the image (not in the padding), and the input coordinate of the first of them (0
    /// when none does: a kernel wholly in the padding, which needs padding >= kernel, must not
    /// name a coordinate past the image even for an empty run).
    fn taps_inside(&self, out: usize, size: usize) -> (Range<usize>, usize) {
        // Input coordinate = out * stride - padding + tap, wanted in 0..size.
        let origin = out * self.stride;
        let first = self.padding.saturating_sub(origin);
        let end = (size + self.padding)
            .saturating_sub(origin)
            .min(self.kernel);
        if first >= end {
            return (0..0, 0);
        }
        (first..end, origin + first - self.padding)
    }

    /// Calls `visit(position, column-matrix range, input range)` for each contiguous run of one
    /// output position's kernel row that lies inside a channels-last image. The ranges are
    /// relative to the position's row of columns and to the image.
    fn for_each_pixel_run(&self, mut visit: impl FnMut(usize, Range<usize>, Range<usize>)) {
        let (c, k) = (self.channels, self.kernel);
        let out_w = self.out_width();
        for oy in 0..self.out_height() {
            let (ky_range, first_y) = self.taps_inside(oy, self.height);
            for ox in 0..out_w {
                let position = oy * out_w + ox;
                let (kx_range, first_x) = self.taps_inside(ox, self.width);
                let len = kx_range.len() * c;
                for (i, ky) in ky_range.clone().enumerate() {
                    let column = (ky * k + kx_range.start) * c;
                    let pixel = ((first_y + i) * self.width + first_x) * c;
                    visit(position, column..column + len, pixel..pixel + len);
                }
            }
        }
    }

    /// Channels-last images -> their pixel-ordered column matrices ([`ColumnOrder::Pixels`]),
    /// one after the other: row (image, oy, ox) holds the input pixels the kernel covers at
    /// that output position, zero where it covers the padding.
    fn im2col(&self, input: &[f32]) -> Vec<f32> {
        // Row by row, each value written once (no zeroing pass first): the padding's zeros,
        // then the run inside the image, per kernel row.
        let (c, k) = (self.channels, self.kernel);
        let mut columns = Vec::with_capacity(self.rows() * self.taps());
        for image in input.chunks_exact(self.image_len()) {
            for oy in 0..self.out_height() {
                let (ky_inside, first_y) = self.taps_inside(oy, self.height);
                for ox in 0..self.out_width() {
                    let (kx_inside, first_x) = self.taps_inside(ox, self.width);
                    for ky in 0..k {
                        let zeros_before = match ky_inside.contains(&ky) {
                            true => kx_inside.start * c,
                            false => k * c,
                        };
                        columns.resize(columns.len() + zeros_before, 0.0);
                        if ky_inside.contains(&ky) {
                            let iy = first_y + (ky - ky_inside.start);
                            let pixel = (iy * self.width + first_x) * c;
                            columns.extend_from_slice(&image[pixel..][..kx_inside.len() * c]);
                            columns.resize(columns.len() + (k - kx_inside.end) * c, 0.0);
                        }
                    }
                }
            }
        }
        columns
    }

    /// The adjoint of [`Geometry::im2col`]: adds every column-matrix entry back onto the input
    /// pixel it was read from, into channels-last `input`.
    fn col2im(&self, columns: &[f32], input: &mut [f32]) {
        let row_len = self.taps();
        let per_image = self.positions() * row_len;
        for (image, rows) in input
            .chunks_exact_mut(self.image_len())
            .zip(columns.chunks_exact(per_image))
        {
            self.for_each_pixel_run(|position, column, pixel| {
                let source = &rows[position * row_len..][column];
                for (target, value) in image[pixel].iter_mut().zip(source) {
                    *target += value;
                }
            });
        }
    }

    /// Along an axis of `size` input pixels and `out` outputs, for kernel tap `tap`: the outputs
    /// whose tap lands inside the image (not in the padding), and the input coordinate the
    /// first of them reads.
    fn outputs_inside(&self, tap: usize, size: usize, out: usize) -> (Range<usize>, usize) {
        // Input coordinate = output * stride + tap - padding, wanted in 0..size.
        let s = self.stride;
        let end = ((size + self.padding).saturating_sub(tap))
            .div_ceil(s)
            .min(out);
        let start = self.padding.saturating_sub(tap).div_ceil(s).min(end);
        (start..end, (start * s + tap).saturating_sub(self.padding))
    }

    /// Calls `visit(row of the image's column matrix, input image row, output columns, first
    /// input column)` for each output row of each tap whose kernel row lands inside the image;
    /// the rest of the column matrix reads the padding (zeros).
    fn for_each_tap_run(&self, mut visit: impl FnMut(usize, usize, usize, Range<usize>, usize)) {
        let (k, out_h, out_w) = (self.kernel, self.out_height(), self.out_width());
        for tap in 0..self.taps() {
            let (channel, ky, kx) = (tap / (k * k), tap / k % k, tap % k);
            let (rows, first_y) = self.outputs_inside(ky, self.height, out_h);
            let (columns, first_x) = self.outputs_inside(kx, self.width, out_w);
            for (i, oy) in rows.enumerate() {
                let y = channel * self.height + first_y + i * self.stride;
                visit(tap, oy, y, columns.clone(), first_x);
            }
        }
    }

    /// One channels-first image `[C, H, W]` -> its tap-ordered column matrix `[C*k*k, P]`
    /// ([`ColumnOrder::Taps`]): row (c, ky, kx) holds, for each output position, the pixel that
    /// tap reads there (0 in the padding).
    fn unfold(&self, image: &[f32], columns: &mut [f32]) {
        let out_w = self.out_width();
        let positions = self.positions();
        // Zeros first: what the padding reads (small next to the runs copied over them).
        columns.fill(0.0);
        self.for_each_tap_run(|tap, oy, y, xs, first_x| {
            let line = &image[y * self.width..][..self.width];
            let out = &mut columns[tap * positions + oy * out_w..][xs];
            let pixels = line[first_x..].iter().step_by(self.stride);
            for (o, &pixel) in out.iter_mut().zip(pixels) {
                *o = pixel;
            }
        });
    }

    /// The adjoint of [`Geometry::unfold`]: adds every column-matrix entry onto the pixel it
    /// was read from, in the channels-first `image`.
    fn fold(&self, columns: &[f32], image: &mut [f32]) {
        let out_w = self.out_width();
        let positions = self.positions();
        self.for_each_tap_run(|tap, oy, y, xs, first_x| {
            let line = &mut image[y * self.width..][..self.width];
            let values = &columns[tap * positions + oy * out_w..][xs];
            let pixels = line[first_x..].iter_mut().step_by(self.stride);
            for (pixel, &value) in pixels.zip(values) {
                *pixel += value;
            }
        });
    }
}

/// `[planes, len]` -> `[len, planes]`, for each consecutive block of `planes * len` values of
/// `values`, into `out`.
fn transpose_blocks_into(values: &[f32], planes: usize, len: usize, out: &mut [f32]) {
    for (block, out) in values
        .chunks_exact(planes * len)
        .zip(out.chunks_exact_mut(planes * len))
    {
        for (plane, values) in block.chunks_exact(len).enumerate() {
            for (i, &value) in values.iter().enumerate() {
                out[i * planes + plane] = value;
            }
        }
    }
}

/// Channels-first images -> channels-last (borrowed when there is one channel: the same order).
fn channels_last<'a>(images: &'a [f32], g: &Geometry) -> Cow<'a, [f32]> {
    if g.channels == 1 {
        return Cow::Borrowed(images);
    }
    let mut out = vec![0.0; images.len()];
    transpose_blocks_into(images, g.channels, g.height * g.width, &mut out);
    Cow::Owned(out)
}

/// burn's weight `[O, C, k, k]` as `[O, taps]` in the order of `g`'s columns.
fn weight_in_column_order(weight: &FlexTensor, g: &Geometry) -> Vec<f32> {
    match g.order() {
        ColumnOrder::Taps => f32_values(weight).into_owned(),
        // (kernel row, kernel column, channel)
        ColumnOrder::Pixels => {
            f32_values(&Flex::float_permute(weight.clone(), &[0, 2, 3, 1])).into_owned()
        }
    }
}

/// The inverse of [`weight_in_column_order`]: burn's `[O, C, k, k]`.
fn weight_from_column_order(weight: Vec<f32>, outputs: usize, g: &Geometry) -> FlexTensor {
    let (c, k) = (g.channels, g.kernel);
    match g.order() {
        ColumnOrder::Taps => flex_tensor(weight, Shape::from([outputs, c, k, k])),
        ColumnOrder::Pixels => {
            let blocks = flex_tensor(weight, Shape::from([outputs, k, k, c]));
            Flex::float_permute(blocks, &[0, 3, 1, 2]).to_contiguous()
        }
    }
}

/// The forward pass, from channels-first `input` and `weight` `[O, taps]` in column order: the
/// channels-first output `[batch, O, out_h, out_w]` and each chunk's column matrices, image
/// after image (for the backward pass).
fn forward(
    input: &[f32],
    weight: &[f32],
    outputs: usize,
    g: &Geometry,
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let per_chunk = g.images_per_chunk();
    let (positions, taps) = (g.positions(), g.taps());
    let mut output = vec![0.0f32; g.batch * g.output_len(outputs)];
    let columns = output
        .par_chunks_mut(per_chunk * g.output_len(outputs))
        .zip(input.par_chunks(per_chunk * g.image_len()))
        .map(|(output, images)| {
            let chunk = g.with_batch(images.len() / g.image_len());
            match g.order() {
                ColumnOrder::Pixels => {
                    let columns = chunk.im2col(&channels_last(images, g));
                    // `[n, O] = cols x W^T` for the chunk's n output pixels, then each image's
                    // `[positions, O]` block turned into its channels-first `[O, positions]`.
                    // (A channels-last destination is the one gemm's kernels take without
                    // transposing the problem: rows of W against the pixels' columns.)
                    let mut rows = vec![0.0f32; chunk.rows() * outputs];
                    matmul(
                        &mut rows,
                        Strided::row_major(chunk.rows(), outputs),
                        &columns,
                        Strided::row_major(chunk.rows(), taps),
                        weight,
                        Strided::row_major(outputs, taps).transposed(),
                        false,
                    );
                    transpose_blocks_into(&rows, positions, outputs, output);
                    columns
                }
                ColumnOrder::Taps => {
                    let mut columns = vec![0.0f32; chunk.batch * g.columns_len()];
                    for ((image, columns), output) in images
                        .chunks_exact(g.image_len())
                        .zip(columns.chunks_exact_mut(g.columns_len()))
                        .zip(output.chunks_exact_mut(g.output_len(outputs)))
                    {
                        g.unfold(image, columns);
                        matmul(
                            output,
                            Strided::row_major(outputs, positions),
                            weight,
                            Strided::row_major(outputs, taps),
                            columns,
                            g.columns_view(),
                            false,
                        );
                    }
                    columns
                }
            }
        })
        .collect();
    (output, columns)
}

/// The operation burn's dispatch routes to [`Flex`] and its autodiff.
#[backend_extension(Flex, Autodiff)]
pub trait CpuConv: burn::backend::Backend {
    /// A bias-free square convolution: stride and padding the same along both axes, no
    /// dilation, one group.
    ///
    /// # Shapes
    /// - input: `[batch, in, height, width]`
    /// - weight: `[out, in, k, k]`
    /// - output: `[batch, out, out_height, out_width]`
    fn cpu_conv2d(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self>;
}

fn output_shape(g: &Geometry, outputs: usize) -> Shape {
    Shape::from([g.batch, outputs, g.out_height(), g.out_width()])
}

/// The geometry of a convolution of `input` `[batch, in, h, w]` by `weight` `[out, in, k, k]`.
///
/// Panics on what the kernels do not compute: a stride of 0 (a division by it follows), a
/// kernel that is not square, or weights for another channel count than the input's.
fn geometry(input: &FlexTensor, weight: &FlexTensor, stride: usize, padding: usize) -> Geometry {
    let (input_shape, weight_shape) = (input.layout().shape(), weight.layout().shape());
    assert!(stride >= 1, "cpu conv2d: stride 0");
    assert_eq!(
        weight_shape[2], weight_shape[3],
        "cpu conv2d: the kernel is {}x{}, not square",
        weight_shape[2], weight_shape[3]
    );
    assert_eq!(
        weight_shape[1], input_shape[1],
        "cpu conv2d: weights for {} input channels, the input has {}",
        weight_shape[1], input_shape[1]
    );
    Geometry::new(input_shape, weight_shape[2], stride, padding)
}

impl CpuConv for Flex {
    fn cpu_conv2d(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        let g = geometry(&input, &weight, stride, padding);
        let outputs = weight.layout().shape()[0];
        let (output, _) = forward(
            &f32_values(&input),
            &weight_in_column_order(&weight, &g),
            outputs,
            &g,
        );
        flex_tensor(output, output_shape(&g, outputs))
    }
}

#[derive(Debug)]
struct ConvBackward;

/// What the backward pass needs: each chunk's column matrices (the unfolded input), the weight
/// `[O, taps]` in column order, the number of outputs, the sizes.
#[derive(Debug, Clone)]
struct Saved {
    columns: Vec<Vec<f32>>,
    weight: Vec<f32>,
    outputs: usize,
    geometry: Geometry,
}

impl Backward<Flex, 2> for ConvBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [input_node, weight_node] = ops.parents;
        let Saved {
            columns,
            weight,
            outputs,
            geometry: g,
        } = ops.state;
        let grad = grads.consume::<Flex>(&ops.node);
        let grad = f32_values(&grad);
        let per_chunk = g.images_per_chunk();
        let (positions, taps) = (g.positions(), g.taps());
        // Each image's gradient is its channels-first block `[O, P]`; its columns `[taps, P]`.
        let dy_view = Strided::row_major(outputs, positions);
        let want_input = input_node.is_some();
        // The first layer's input (the images) needs no gradient: its share stays zeros.
        let mut dx = vec![0.0f32; g.batch * g.image_len()];
        let dws: Vec<Vec<f32>> = grad
            .par_chunks(per_chunk * g.output_len(outputs))
            .zip(columns.par_iter())
            .zip(dx.par_chunks_mut(per_chunk * g.image_len()))
            .map(|((grad, columns), dx)| {
                let chunk = g.with_batch(grad.len() / g.output_len(outputs));
                let images = || {
                    grad.chunks_exact(g.output_len(outputs))
                        .zip(columns.chunks_exact(g.columns_len()))
                };
                if want_input {
                    // dcols `[taps, P] = W^T x dY` per image, folded back onto the images.
                    let mut dcolumns = vec![0.0f32; columns.len()];
                    for (dcolumns, (dy, _)) in
                        dcolumns.chunks_exact_mut(g.columns_len()).zip(images())
                    {
                        matmul(
                            dcolumns,
                            g.columns_view(),
                            &weight,
                            Strided::row_major(outputs, taps).transposed(),
                            dy,
                            dy_view,
                            false,
                        );
                    }
                    match g.order() {
                        ColumnOrder::Pixels => {
                            let mut channels_last = vec![0.0f32; dx.len()];
                            chunk.col2im(&dcolumns, &mut channels_last);
                            let plane = g.height * g.width;
                            transpose_blocks_into(&channels_last, plane, g.channels, dx);
                        }
                        ColumnOrder::Taps => {
                            for (dcolumns, dx) in dcolumns
                                .chunks_exact(g.columns_len())
                                .zip(dx.chunks_exact_mut(g.image_len()))
                            {
                                g.fold(dcolumns, dx);
                            }
                        }
                    }
                }
                // dW `[O, taps]`: the sum over the chunk's images of dY x cols^T.
                let mut dw = vec![0.0f32; outputs * taps];
                for (i, (dy, columns)) in images().enumerate() {
                    matmul(
                        &mut dw,
                        Strided::row_major(outputs, taps),
                        dy,
                        dy_view,
                        columns,
                        g.columns_view().transposed(),
                        i > 0,
                    );
                }
                dw
            })
            .collect();
        if let Some(node) = weight_node {
            // Chunk order, whatever ran where: the same sum on any number of threads.
            let dw = dws.into_iter().reduce(|mut total, dw| {
                total.iter_mut().zip(&dw).for_each(|(t, d)| *t += d);
                total
            });
            if let Some(dw) = dw {
                grads.register::<Flex>(node.id, weight_from_column_order(dw, outputs, &g));
            }
        }
        if let Some(node) = input_node {
            let shape = Shape::from([g.batch, g.channels, g.height, g.width]);
            grads.register::<Flex>(node.id, flex_tensor(dx, shape));
        }
    }
}

impl<C: CheckpointStrategy> CpuConv for Autodiff<Flex, C> {
    fn cpu_conv2d(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        stride: usize,
        padding: usize,
    ) -> FloatTensor<Self> {
        assert_eq!(
            (input.primitive().dtype(), weight.primitive().dtype()),
            (DType::F32, DType::F32),
            "the CPU convolution computes in f32"
        );
        match ConvBackward
            .prepare::<C>([input.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let input = input.into_primitive();
                let weight = weight.into_primitive();
                let g = geometry(&input, &weight, stride, padding);
                let outputs = weight.layout().shape()[0];
                let weight = weight_in_column_order(&weight, &g);
                let (output, columns) = forward(&f32_values(&input), &weight, outputs, &g);
                let output = flex_tensor(output, output_shape(&g, outputs));
                let saved = Saved {
                    columns,
                    weight,
                    outputs,
                    geometry: g,
                };
                prep.finish(saved, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::cpu_conv2d(
                input.into_primitive(),
                weight.into_primitive(),
                stride,
                padding,
            )),
        }
    }
}

/// [`CpuConv::cpu_conv2d`] on tensors (`flex` only).
///
/// # Shapes
/// - input: `[batch, in, height, width]`
/// - weight: `[out, in, k, k]`
/// - output: `[batch, out, out_height, out_width]`
pub fn conv2d(input: Tensor<4>, weight: Tensor<4>, stride: usize, padding: usize) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::cpu_conv2d(
        input.into_dispatch(),
        weight.into_dispatch(),
        stride,
        padding,
    ))
}

/// burn's `Conv2d` layer on `x`, bias included: through [`conv2d`] when `x` is on `flex` and
/// the convolution is one it computes ([`square`]), else `Conv2d::forward`. The same function
/// with the same parameters (the tests check it against burn's).
///
/// # Shapes
/// - x: `[batch, in, side, side]`
/// - output: `[batch, filters, side / stride, side / stride]`
pub fn conv2d_layer(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    match square(conv) {
        Some((stride, padding)) if super::is_flex(&x.device()) => {
            let y = conv2d(x, conv.weight.val(), stride, padding);
            match &conv.bias {
                Some(bias) => y + bias.val().reshape([1, -1, 1, 1]),
                None => y,
            }
        }
        _ => conv.forward(x),
    }
}

/// Stride and padding when the convolution is square with symmetric explicit padding, no
/// dilation and one group (every stage's, see `model::ConvNetConfig::init`): the convolutions
/// [`conv2d`] computes.
fn square(conv: &Conv2d) -> Option<(usize, usize)> {
    let PaddingConfig2d::Explicit(top, left, bottom, right) = conv.padding else {
        return None;
    };
    let [stride, stride_w] = conv.stride;
    let square = conv.kernel_size[0] == conv.kernel_size[1]
        && stride == stride_w
        && conv.dilation == [1, 1]
        && conv.groups == 1
        && [left, bottom, right] == [top; 3];
    square.then_some((stride, top))
}

#[cfg(test)]
mod tests;
