//! Training side of mnist-edge: the codelab's MNIST progression in burn, from a single softmax
//! layer to the batch-norm CNN, with metrics, plots and exports.
//!
//! Modules follow the pipeline: [`data`] reads MNIST (and [`augment`] distorts it for the stage
//! beyond the codelab), [`stages`] names each step of the codelab and its recipe, [`model`] defines the networks, [`train`] fits and evaluates them,
//! [`artifacts`] saves them, [`export`] writes them for other runtimes, [`report`] and [`plot`]
//! draw what happened. [`backend`] picks the device; [`flex_kernels`] are the training kernels
//! burn's `flex` CPU backend runs instead of its generic ones.

pub mod artifacts;
pub mod augment;
pub mod backend;
pub mod data;
pub mod export;
pub mod flex_kernels;
pub mod model;
pub mod plot;
pub mod report;
pub mod stages;
pub mod train;
