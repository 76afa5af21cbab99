//! On-the-fly data augmentation: each training image, every time it is drawn into a mini-batch,
//! goes through a fresh random affine distortion (rotation, scale, shear, shift) about the
//! image centre, resampled bilinearly, and a random change of stroke width (a partial grey-level
//! dilation or erosion). Handwriting varies in exactly these ways, and so does a finger on a
//! touch screen, whose strokes are all as wide as the finger; a network that has seen them
//! generalises past the 60,000 originals.
//!
//! The draws come from one seeded RNG in a fixed order (image by image, parameter by parameter),
//! so a run is reproducible from its seed like the rest of training.

use rand::Rng;
use serde::Serialize;

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, PIXEL_SCALE};

/// The ranges each image's distortion is drawn from, uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Augmentation {
    /// Rotation in `[-max, max]` degrees.
    pub max_rotation_degrees: f32,
    /// Scale factor in `[1 - max, 1 + max]`, the same on both axes.
    pub max_scale_change: f32,
    /// Horizontal shear `x += shear * y` with `shear` in `[-max, max]` (italic writing).
    pub max_shear: f32,
    /// Shift in `[-max, max]` pixels, each axis on its own.
    pub max_shift_pixels: f32,
    /// Stroke width change in `[-max, max]`: 1 thickens every stroke by a pixel on each side
    /// (a dilation), -1 thins it as much (an erosion), values between blend.
    pub max_stroke_change: f32,
}

/// One image's distortion: where each output pixel's centre samples the source image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortion {
    /// Output-to-source linear map (row-major 2x2), about the image centre.
    inverse: [f32; 4],
    /// Shift applied after the linear map, in pixels.
    shift: (f32, f32),
    /// Stroke width change, -1..1 (see [`Augmentation::max_stroke_change`]).
    stroke: f32,
}

impl Distortion {
    /// The distortion that leaves images as they are.
    pub const IDENTITY: Distortion = Distortion {
        inverse: [1.0, 0.0, 0.0, 1.0],
        shift: (0.0, 0.0),
        stroke: 0.0,
    };

    /// The forward map `shift + R(rotation) * Shear(shear) * scale` inverted, so that each output
    /// pixel can look up its source.
    pub fn new(rotation_degrees: f32, scale: f32, shear: f32, shift: (f32, f32)) -> Self {
        let (sin, cos) = rotation_degrees.to_radians().sin_cos();
        // R * [[1, shear], [0, 1]] * scale
        let forward = [
            cos * scale,
            (cos * shear - sin) * scale,
            sin * scale,
            (sin * shear + cos) * scale,
        ];
        let det = forward[0] * forward[3] - forward[1] * forward[2];
        Distortion {
            inverse: [
                forward[3] / det,
                -forward[1] / det,
                -forward[2] / det,
                forward[0] / det,
            ],
            shift,
            stroke: 0.0,
        }
    }

    /// The same distortion, then strokes made wider (`stroke` > 0) or thinner (< 0), `stroke` in
    /// -1..1.
    pub fn with_stroke(self, stroke: f32) -> Self {
        Distortion {
            stroke: stroke.clamp(-1.0, 1.0),
            ..self
        }
    }

    /// Draws a distortion from `ranges`.
    pub fn random(ranges: &Augmentation, rng: &mut impl Rng) -> Self {
        let mut symmetric = |max: f32| {
            if max > 0.0 {
                rng.random_range(-max..=max)
            } else {
                0.0
            }
        };
        let rotation = symmetric(ranges.max_rotation_degrees);
        let scale = 1.0 + symmetric(ranges.max_scale_change);
        let shear = symmetric(ranges.max_shear);
        let shift = (
            symmetric(ranges.max_shift_pixels),
            symmetric(ranges.max_shift_pixels),
        );
        let stroke = symmetric(ranges.max_stroke_change);
        Distortion::new(rotation, scale, shear, shift).with_stroke(stroke)
    }

    /// Writes the distorted `image` (28x28 grey levels), scaled by [`PIXEL_SCALE`] as training
    /// expects, into `out`. Source pixels outside the image are background (0).
    pub fn apply(&self, image: &[u8], out: &mut [f32]) {
        let half = IMAGE_SIDE as f32 / 2.0;
        let at = |x: isize, y: isize| -> f32 {
            let inside =
                (0..IMAGE_SIDE as isize).contains(&x) && (0..IMAGE_SIDE as isize).contains(&y);
            if inside {
                f32::from(image[y as usize * IMAGE_SIDE + x as usize])
            } else {
                0.0
            }
        };
        let [a, b, c, d] = self.inverse;
        for (i, o) in out.iter_mut().take(IMAGE_PIXELS).enumerate() {
            // Pixel centres relative to the image centre, shift undone, mapped back.
            let u = (i % IMAGE_SIDE) as f32 + 0.5 - half - self.shift.0;
            let v = (i / IMAGE_SIDE) as f32 + 0.5 - half - self.shift.1;
            let sx = a * u + b * v + half - 0.5;
            let sy = c * u + d * v + half - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
            let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
            *o = (top * (1.0 - fy) + bottom * fy) * PIXEL_SCALE;
        }
        if self.stroke != 0.0 {
            let pixels = IMAGE_PIXELS.min(out.len());
            change_stroke_width(&mut out[..pixels], self.stroke);
        }
    }
}

/// Blends `image` towards its grey-level dilation (`amount` > 0: each pixel the brightest of
/// itself and its four neighbours) or erosion (< 0: the darkest), so strokes grow or shrink by
/// up to a pixel on each side.
fn change_stroke_width(image: &mut [f32], amount: f32) {
    let source = image.to_vec();
    let side = IMAGE_SIDE as isize;
    let at = |x: isize, y: isize| -> f32 {
        let inside = (0..side).contains(&x) && (0..side).contains(&y);
        if inside {
            source[(y * side + x) as usize]
        } else {
            0.0
        }
    };
    for (i, value) in image.iter_mut().enumerate() {
        let (x, y) = ((i % IMAGE_SIDE) as isize, (i / IMAGE_SIDE) as isize);
        let cross = [
            at(x, y),
            at(x - 1, y),
            at(x + 1, y),
            at(x, y - 1),
            at(x, y + 1),
        ];
        let target = if amount > 0.0 {
            cross.into_iter().fold(f32::MIN, f32::max)
        } else {
            cross.into_iter().fold(f32::MAX, f32::min)
        };
        *value += (target - *value) * amount.abs();
    }
}

impl Augmentation {
    /// Distorts each of `images` (28x28 grey levels each) with a fresh draw from `rng`, and
    /// returns them scaled and concatenated, `images.len() * 784` values.
    pub fn batch<'a>(
        &self,
        images: impl ExactSizeIterator<Item = &'a [u8]>,
        rng: &mut impl Rng,
    ) -> Vec<f32> {
        let mut out = vec![0.0; images.len() * IMAGE_PIXELS];
        for (image, slot) in images.zip(out.chunks_exact_mut(IMAGE_PIXELS)) {
            Distortion::random(self, rng).apply(image, slot);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn test_image() -> Vec<u8> {
        (0..IMAGE_PIXELS).map(|i| (i * 37 % 256) as u8).collect()
    }

    fn distorted(d: &Distortion, image: &[u8]) -> Vec<f32> {
        let mut out = vec![0.0; IMAGE_PIXELS];
        d.apply(image, &mut out);
        out
    }

    #[test]
    fn identity_only_scales_the_pixels() {
        let image = test_image();
        let out = distorted(&Distortion::IDENTITY, &image);
        for (o, &p) in out.iter().zip(&image) {
            assert!((o - f32::from(p) * PIXEL_SCALE).abs() < 1e-6);
        }
        assert_eq!(
            Distortion::new(0.0, 1.0, 0.0, (0.0, 0.0)),
            Distortion::IDENTITY
        );
    }

    #[test]
    fn a_whole_pixel_shift_moves_the_ink_by_one_pixel() {
        let mut image = vec![0u8; IMAGE_PIXELS];
        image[10 * IMAGE_SIDE + 12] = 200;
        let out = distorted(&Distortion::new(0.0, 1.0, 0.0, (2.0, -1.0)), &image);
        let lit: Vec<usize> = (0..IMAGE_PIXELS).filter(|&i| out[i] > 0.0).collect();
        assert_eq!(lit, vec![9 * IMAGE_SIDE + 14]);
    }

    #[test]
    fn a_quarter_turn_rotates_clockwise_on_screen() {
        // y grows downwards: +90 degrees takes the pixel right of the centre to below it.
        let mut image = vec![0u8; IMAGE_PIXELS];
        image[14 * IMAGE_SIDE + 20] = 255; // centre is between pixels 13 and 14
        let out = distorted(&Distortion::new(90.0, 1.0, 0.0, (0.0, 0.0)), &image);
        let brightest = (0..IMAGE_PIXELS)
            .max_by(|&a, &b| out[a].total_cmp(&out[b]))
            .unwrap();
        assert_eq!(
            (brightest % IMAGE_SIDE, brightest / IMAGE_SIDE),
            (13, 20),
            "{out:?}"
        );
    }

    #[test]
    fn stroke_width_changes_grow_and_shrink_the_ink() {
        let mut image = vec![0u8; IMAGE_PIXELS];
        for y in 8..20 {
            for x in 12..15 {
                image[y * IMAGE_SIDE + x] = 255;
            }
        }
        let ink = |d: Distortion| -> f32 { distorted(&d, &image).iter().sum() };
        let plain = ink(Distortion::IDENTITY);
        assert!(ink(Distortion::IDENTITY.with_stroke(1.0)) > plain * 1.5);
        assert!(ink(Distortion::IDENTITY.with_stroke(-1.0)) < plain * 0.5);
        let half = ink(Distortion::IDENTITY.with_stroke(0.5));
        assert!(half > plain && half < ink(Distortion::IDENTITY.with_stroke(1.0)));
    }

    #[test]
    fn batches_are_reproducible_from_the_seed_and_vary_between_draws() {
        let ranges = Augmentation {
            max_rotation_degrees: 12.0,
            max_scale_change: 0.1,
            max_shear: 0.2,
            max_shift_pixels: 2.0,
            max_stroke_change: 0.5,
        };
        let image = test_image();
        let images = || [image.as_slice(), image.as_slice()].into_iter();
        let a = ranges.batch(images(), &mut StdRng::seed_from_u64(5));
        let b = ranges.batch(images(), &mut StdRng::seed_from_u64(5));
        assert_eq!(a, b);
        assert_ne!(a[..IMAGE_PIXELS], a[IMAGE_PIXELS..]);
        assert!(a.iter().all(|v| (0.0..1.0).contains(v)));
    }
}
