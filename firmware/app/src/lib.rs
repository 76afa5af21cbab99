//! Everything of the digit-recognition firmware that is not hardware, `no_std` and allocation
//! free: a [`canvas`] the finger draws on, the MNIST-style [`preprocess`] that turns the drawing
//! into a 28x28 digit, and the [`recognizer`] that runs the int8 cnn-bn model on it. The board
//! binaries (and the host tests) feed touch points to a [`session`] and draw the [`ui`] it
//! describes; [`touch`] drives the panel's XPT2046 controller over any embedded-hal SPI device.
#![no_std]
#![forbid(unsafe_code)]

pub mod canvas;
pub mod preprocess;
pub mod recognizer;
pub mod session;
pub mod synthetic;
pub mod touch;
pub mod ui;
