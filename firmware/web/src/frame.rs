//! The board's screen as the page shows it: a 320x240 RGBA frame that embedded-graphics draws
//! into and a canvas's `putImageData` takes as it is.

use embedded_graphics::pixelcolor::{Rgb565, Rgb888};
use embedded_graphics::prelude::*;

/// Bytes per pixel: red, green, blue, alpha.
const RGBA: usize = 4;

/// A frame of `size` pixels, row by row, RGBA, opaque.
pub struct Frame {
    size: Size,
    rgba: Vec<u8>,
    /// Counts the draws, so the page redraws its canvas only after one.
    draws: u32,
}

impl Frame {
    /// A black frame.
    pub fn new(size: Size) -> Self {
        let pixels = size.width as usize * size.height as usize;
        let mut rgba = vec![0; pixels * RGBA];
        for pixel in rgba.chunks_exact_mut(RGBA) {
            pixel[3] = u8::MAX;
        }
        Frame {
            size,
            rgba,
            draws: 0,
        }
    }

    /// The pixels, RGBA row by row.
    pub fn rgba(&self) -> &[u8] {
        &self.rgba
    }

    /// How many draws changed the frame so far.
    pub fn draws(&self) -> u32 {
        self.draws
    }

    /// The colour at `p` as the simulator writes it to a PNG (embedded-graphics' own widening).
    pub fn pixel(&self, p: Point) -> Option<Rgb888> {
        let i = self.index(p)?;
        let c = self.rgba.get(i..i + 3)?;
        Some(Rgb888::new(c[0], c[1], c[2]))
    }

    fn index(&self, p: Point) -> Option<usize> {
        let (x, y) = (usize::try_from(p.x).ok()?, usize::try_from(p.y).ok()?);
        let (width, height) = (self.size.width as usize, self.size.height as usize);
        (x < width && y < height).then_some((y * width + x) * RGBA)
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Frame {
    type Color = Rgb565;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(p, color) in pixels {
            if let Some(i) = self.index(p) {
                let c = Rgb888::from(color);
                self.rgba[i..i + 3].copy_from_slice(&[c.r(), c.g(), c.b()]);
            }
        }
        self.draws = self.draws.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, Rectangle};

    #[test]
    fn draws_land_as_opaque_widened_rgb_and_off_frame_pixels_are_dropped() {
        let mut frame = Frame::new(Size::new(4, 3));
        assert_eq!(frame.rgba()[3], 255);
        Rectangle::new(Point::new(1, 1), Size::new(10, 1))
            .into_styled(PrimitiveStyle::with_fill(Rgb565::new(31, 0, 10)))
            .draw(&mut frame)
            .unwrap();
        let widened = Rgb888::from(Rgb565::new(31, 0, 10));
        assert_eq!(frame.pixel(Point::new(3, 1)), Some(widened));
        assert_eq!(frame.pixel(Point::new(0, 1)), Some(Rgb888::BLACK));
        assert_eq!(frame.pixel(Point::new(4, 1)), None);
        let i = (4 + 2) * 4;
        assert_eq!(
            &frame.rgba()[i..i + 4],
            &[widened.r(), widened.g(), widened.b(), 255]
        );
        assert_eq!(frame.draws(), 1);
    }
}
