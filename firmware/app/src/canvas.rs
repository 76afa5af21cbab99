//! The drawing surface: grey levels (0 = paper, 255 = ink) of a square area, and strokes drawn
//! on it as anti-aliased thick lines, like a finger on a resistive touch screen.

use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

/// Side of the canvas in pixels (the drawing area of the display).
pub const SIDE: usize = 160;
/// Half the stroke width, in canvas pixels: a finger-width line that, scaled into MNIST's 20x20
/// box, is about as thick as MNIST's pen.
pub const STROKE_RADIUS: f32 = 7.0;

/// A square grey-level canvas.
pub struct Canvas {
    pixels: [u8; SIDE * SIDE],
    last: Option<(f32, f32)>,
}

impl Default for Canvas {
    fn default() -> Self {
        Self::new()
    }
}

impl Canvas {
    /// A blank canvas.
    pub const fn new() -> Self {
        Canvas {
            pixels: [0; SIDE * SIDE],
            last: None,
        }
    }

    /// Grey levels, row-major, `SIDE * SIDE` bytes.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The grey level at (x, y), or 0 outside.
    pub fn at(&self, x: usize, y: usize) -> u8 {
        if x < SIDE && y < SIDE {
            self.pixels.get(y * SIDE + x).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// True when nothing has been drawn.
    pub fn is_blank(&self) -> bool {
        self.pixels.iter().all(|&p| p == 0)
    }

    /// Wipes the canvas.
    pub fn clear(&mut self) {
        self.pixels.fill(0);
        self.last = None;
    }

    /// The finger touched (or moved to) `(x, y)`: draws from the previous point of the stroke.
    /// Returns the canvas area that changed.
    pub fn touch(&mut self, x: f32, y: f32) -> Rectangle {
        let from = self.last.unwrap_or((x, y));
        self.last = Some((x, y));
        self.line(from, (x, y))
    }

    /// The finger left the screen: the next touch starts a new stroke.
    pub fn lift(&mut self) {
        self.last = None;
    }

    /// Draws a thick anti-aliased segment: each pixel's coverage is how far its centre lies
    /// inside the stroke's edge, over one pixel of fall-off; ink only ever darkens. Returns the
    /// canvas area that may have changed (what a display must redraw).
    pub fn line(&mut self, (x0, y0): (f32, f32), (x1, y1): (f32, f32)) -> Rectangle {
        let r = STROKE_RADIUS;
        let clamp = |v: f32| libm::floorf(v).clamp(0.0, (SIDE - 1) as f32) as usize;
        let (left, right) = (clamp(x0.min(x1) - r - 1.0), clamp(x0.max(x1) + r + 1.0));
        let (top, bottom) = (clamp(y0.min(y1) - r - 1.0), clamp(y0.max(y1) + r + 1.0));
        let (dx, dy) = (x1 - x0, y1 - y0);
        let length2 = dx * dx + dy * dy;
        for y in top..=bottom {
            for x in left..=right {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let t = if length2 > 0.0 {
                    (((px - x0) * dx + (py - y0) * dy) / length2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (ex, ey) = (px - (x0 + t * dx), py - (y0 + t * dy));
                let distance = libm::sqrtf(ex * ex + ey * ey);
                let coverage = (r + 0.5 - distance).clamp(0.0, 1.0);
                if let Some(p) = self.pixels.get_mut(y * SIDE + x) {
                    *p = (*p).max(libm::roundf(coverage * 255.0) as u8);
                }
            }
        }
        Rectangle::new(
            Point::new(left as i32, top as i32),
            Size::new((right - left + 1) as u32, (bottom - top + 1) as u32),
        )
    }

    /// The whole canvas, as an area.
    pub const fn area() -> Rectangle {
        Rectangle::new(Point::zero(), Size::new(SIDE as u32, SIDE as u32))
    }
}
