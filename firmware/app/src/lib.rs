//! Everything of the digit-recognition firmware that is not hardware, `no_std` and allocation
//! free: a [`canvas`] the finger draws on, the MNIST-style [`preprocess`] that turns the drawing
//! into a 28x28 digit, and the [`recognizer`] that runs the int8 cnn-bn model on it. The board
//! binaries (and the host tests) feed it touch points and draw the [`ui`] it describes.
#![no_std]
#![forbid(unsafe_code)]

pub mod canvas;
pub mod preprocess;
pub mod recognizer;
pub mod synthetic;
pub mod ui;
