//! Everything of the digit-recognition firmware that is not hardware, `no_std` and allocation
//! free: a [`canvas`] the finger draws on, the MNIST-style [`preprocess`] that turns the drawing
//! into a 28x28 digit, and the [`recognizer`] that runs the model the binary embeds on it. The
//! poll loop is the [`controller`]'s: it feeds the touch panel's readings to a [`session`] (a
//! [`sketch`], the drawing, with the model recognising what it settles on) or, with a finger on
//! the panel at power-up, to the [`calibration`], and draws the [`ui`] they
//! describe, laid out for its screen by [`layout`], so a board binary is only its wiring, its
//! hardware behind the controller's traits, and its log. [`touch`] drives an XPT2046 controller
//! over any embedded-hal SPI device, [`pointer`] stands in for it where a mouse or a screen's
//! own touch gives pixels (the simulator, the web page), [`calibration_record`] is the checked byte format a fitted
//! calibration takes in flash, and [`fault`] says what a board shows when it cannot go on.
#![no_std]
#![forbid(unsafe_code)]

pub mod calibration;
pub mod calibration_record;
pub mod canvas;
pub mod controller;
pub mod fault;
pub mod layout;
pub mod pointer;
pub mod preprocess;
pub mod recognizer;
pub mod session;
pub mod sketch;
pub mod synthetic;
pub mod touch;
pub mod ui;
