//! The drawing surface: grey levels (0 = paper, 255 = ink) of a square area, and strokes drawn
//! on it as anti-aliased thick lines, like a finger on a resistive touch screen.

use embedded_graphics::prelude::{Point, Size};
use embedded_graphics::primitives::Rectangle;

/// Side of the canvas in pixels (the drawing area of the display).
pub const SIDE: usize = 160;
/// Half the stroke width, in canvas pixels: a finger-width line that, scaled into MNIST's 20x20
/// box, is about as thick as MNIST's pen.
pub const STROKE_RADIUS: f32 = 7.0;

/// Stroke geometry works on a grid this many times finer than the pixels.
const SUBPIXEL: i32 = 16;
/// Distance from the stroke's centre line, in grid units, up to which a pixel centre is fully
/// inked (half a pixel inside the edge) ...
const FULL_INK: f32 = (STROKE_RADIUS - 0.5) * SUBPIXEL as f32;
/// ... and from which it gets no ink (half a pixel outside).
const NO_INK: f32 = (STROKE_RADIUS + 0.5) * SUBPIXEL as f32;

/// The ink of a pixel whose centre is `distance` grid units from the stroke's centre line.
fn ink_at_distance(distance: f32) -> u8 {
    let coverage = ((NO_INK - distance) / SUBPIXEL as f32).clamp(0.0, 1.0);
    libm::roundf(coverage * 255.0) as u8
}

/// The same from the squared distance, compared as integers where the ink is full or none
/// (both bounds are whole numbers of grid units).
fn ink_at_squared_distance(distance2: i32) -> u8 {
    const FULL_INK2: i32 = (FULL_INK * FULL_INK) as i32;
    const NO_INK2: i32 = (NO_INK * NO_INK) as i32;
    if distance2 <= FULL_INK2 {
        255
    } else if distance2 >= NO_INK2 {
        0
    } else {
        ink_at_distance(libm::sqrtf(distance2 as f32))
    }
}

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
    ///
    /// The geometry is integer: points snap to a 1/16-pixel grid (and are clamped to within
    /// one canvas size of the canvas), so distances are exact and only the pixels on the
    /// anti-aliased edge need floating point. A Cortex-M0+, which has no FPU, then draws a
    /// finger-fast stroke well within one touch poll.
    pub fn line(&mut self, (x0, y0): (f32, f32), (x1, y1): (f32, f32)) -> Rectangle {
        let r = STROKE_RADIUS;
        let clamp = |v: f32| libm::floorf(v).clamp(0.0, (SIDE - 1) as f32) as usize;
        let (left, right) = (clamp(x0.min(x1) - r - 1.0), clamp(x0.max(x1) + r + 1.0));
        let (top, bottom) = (clamp(y0.min(y1) - r - 1.0), clamp(y0.max(y1) + r + 1.0));
        let grid = |v: f32| {
            let side = SIDE as f32;
            libm::roundf(v.clamp(-side, 2.0 * side) * SUBPIXEL as f32) as i32
        };
        let (ax, ay, bx, by) = (grid(x0), grid(y0), grid(x1), grid(y1));
        let (dx, dy) = (bx - ax, by - ay);
        let length2 = dx * dx + dy * dy;
        let length = libm::sqrtf(length2 as f32);
        // Along the segment's middle the distance is |cross| / length: these bounds on |cross|
        // (rounded outwards) mark full ink and no ink without a division.
        let full_across = libm::floorf(FULL_INK * length) as i32;
        let no_across = libm::ceilf(NO_INK * length) as i32;
        for y in top..=bottom {
            let py = y as i32 * SUBPIXEL + SUBPIXEL / 2;
            for x in left..=right {
                let px = x as i32 * SUBPIXEL + SUBPIXEL / 2;
                let (ux, uy) = (px - ax, py - ay);
                let along = ux * dx + uy * dy;
                let level = if length2 == 0 || along <= 0 {
                    ink_at_squared_distance(ux * ux + uy * uy)
                } else if along >= length2 {
                    let (vx, vy) = (px - bx, py - by);
                    ink_at_squared_distance(vx * vx + vy * vy)
                } else {
                    let across = (ux * dy - uy * dx).abs();
                    if across <= full_across {
                        255
                    } else if across >= no_across {
                        0
                    } else {
                        ink_at_distance(across as f32 / length)
                    }
                };
                if let Some(p) = self.pixels.get_mut(y * SIDE + x) {
                    *p = (*p).max(level);
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
