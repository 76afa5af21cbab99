//! What the app's host tests share: the boards' model and layout, and an in-memory screen.
#![allow(dead_code)] // each test file uses its own part

use std::path::Path;

use app::layout::Layout;
use app::recognizer::Recognizer;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;

/// The scratch the tests give the model: the boards' comes from their build (`model-embed`);
/// this one only needs to be large enough, which `Recognizer::new` checks.
pub const SCRATCH: usize = 64 * 1024;

pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The boards' model, `models/<BOARD_STAGE>.i8.mnef`.
pub fn model() -> &'static [u8] {
    static MODEL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        let path = model_embed::board_model(root(), "i8");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

pub fn recognizer() -> Recognizer<SCRATCH> {
    Recognizer::new(model()).unwrap()
}

/// The boards' layout (the 320x240 panel).
pub fn layout() -> Layout {
    Layout::for_screen(Layout::MIN_SCREEN).unwrap()
}

/// An in-memory screen for the tests: what a panel would show.
pub struct Framebuffer {
    size: Size,
    pixels: Vec<Rgb565>,
}

impl Framebuffer {
    pub fn new() -> Self {
        let size = layout().screen;
        Framebuffer {
            size,
            pixels: vec![Rgb565::BLACK; (size.width * size.height) as usize],
        }
    }

    pub fn pixel(&self, x: u32, y: u32) -> Option<Rgb565> {
        (x < self.size.width && y < self.size.height)
            .then(|| self.pixels[(y * self.size.width + x) as usize])
    }

    pub fn pixels(&self) -> &[Rgb565] {
        &self.pixels
    }
}

impl OriginDimensions for Framebuffer {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Framebuffer {
    type Color = Rgb565;
    type Error = std::convert::Infallible;

    fn draw_iter<I: IntoIterator<Item = Pixel<Rgb565>>>(
        &mut self,
        pixels: I,
    ) -> Result<(), Self::Error> {
        for Pixel(p, color) in pixels {
            if let (Ok(x), Ok(y)) = (u32::try_from(p.x), u32::try_from(p.y))
                && x < self.size.width
                && y < self.size.height
            {
                self.pixels[(y * self.size.width + x) as usize] = color;
            }
        }
        Ok(())
    }
}
