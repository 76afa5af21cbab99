//! The MNIST construction applied to a drawing: the ink's bounding box is scaled to fit a 20x20
//! box keeping its aspect ratio (area-averaged, so edges get anti-aliased grey levels), then
//! placed in a 28x28 frame so that its centre of mass sits at the frame's centre.

/// Side of the model input.
pub const DIGIT_SIDE: usize = 28;
/// Side of the box the digit is scaled into (MNIST: 20 in a 28 frame).
pub const BOX_SIDE: usize = 20;

/// The ink's bounding box `[left, right) x [top, bottom)` in a `side x side` image, if any.
pub fn bounding_box(pixels: &[u8], side: usize) -> Option<(usize, usize, usize, usize)> {
    let mut bbox: Option<(usize, usize, usize, usize)> = None;
    for (i, _) in pixels.iter().enumerate().filter(|(_, p)| **p > 0) {
        let (x, y) = (i % side, i / side);
        bbox = Some(match bbox {
            None => (x, x + 1, y, y + 1),
            Some((l, r, t, b)) => (l.min(x), r.max(x + 1), t.min(y), b.max(y + 1)),
        });
    }
    bbox
}

/// Length of the overlap of `[a0, a1)` and `[b0, b1)`.
fn overlap(a0: f32, a1: f32, b0: f32, b1: f32) -> f32 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Source pixels whose overlap weights a [`Span`] keeps (one target pixel covers at most
/// 0.075 x the canvas side + 2 source pixels, 14 on the 160-pixel canvas); past them they are
/// computed when needed.
const KEPT_WEIGHTS: usize = 16;

/// Along one axis, the source pixels `[first, end)` that target pixel `t` covers and each one's
/// overlap with it: computed once per target row or column instead of once per source pixel
/// visited (on the M0+, without an FPU, every float operation counts).
#[derive(Clone, Copy)]
struct Span {
    /// The target pixel's extent in source pixels.
    from: f32,
    to: f32,
    first: usize,
    end: usize,
    kept: [f32; KEPT_WEIGHTS],
}

impl Span {
    /// Target pixel `t` at `scale` source pixels per target pixel, of `limit` source pixels.
    fn new(t: usize, scale: f32, limit: usize) -> Self {
        let (from, to) = (t as f32 * scale, (t + 1) as f32 * scale);
        let first = libm::floorf(from) as usize;
        let end = (libm::ceilf(to) as usize).min(limit);
        let mut kept = [0.0; KEPT_WEIGHTS];
        for (k, weight) in kept.iter_mut().enumerate().take(end.saturating_sub(first)) {
            *weight = source_overlap(from, to, first + k);
        }
        Span {
            from,
            to,
            first,
            end,
            kept,
        }
    }

    /// The overlap of source pixel `first + k`.
    fn weight(&self, k: usize) -> f32 {
        self.kept
            .get(k)
            .copied()
            .unwrap_or_else(|| source_overlap(self.from, self.to, self.first + k))
    }
}

/// The overlap of source pixel `source` with the extent `[from, to)`.
fn source_overlap(from: f32, to: f32, source: usize) -> f32 {
    overlap(from, to, source as f32, source as f32 + 1.0)
}

/// Area-averages the `(w, h)` region at `(left, top)` of a `side`-wide image into a
/// `(tw, th)` grid written at `(ox, oy)` of the 28x28 `out` (each target pixel averages the source
/// area it covers, weighted by overlap).
#[allow(clippy::too_many_arguments)] // source rectangle, target rectangle: each needed
fn resample(
    pixels: &[u8],
    side: usize,
    (left, top, w, h): (usize, usize, usize, usize),
    (ox, oy, tw, th): (usize, usize, usize, usize),
    out: &mut [f32],
) {
    let (sx, sy) = (w as f32 / tw as f32, h as f32 / th as f32);
    // The target's columns, once for all its rows (a target wider than the frame, which
    // `to_mnist` never asks for, gets its columns past the frame's as it goes).
    let columns: [Option<Span>; DIGIT_SIDE] =
        core::array::from_fn(|tx| (tx < tw).then(|| Span::new(tx, sx, w)));
    for ty in 0..th {
        let rows = Span::new(ty, sy, h);
        for tx in 0..tw {
            let wide;
            let columns = match columns.get(tx) {
                Some(Some(span)) => span,
                _ => {
                    wide = Span::new(tx, sx, w);
                    &wide
                }
            };
            let mut sum = 0.0;
            for (ky, y) in (rows.first..rows.end).enumerate() {
                let wy = rows.weight(ky);
                let row = pixels.get((top + y) * side + left..).unwrap_or_default();
                for (kx, x) in (columns.first..columns.end).enumerate() {
                    let p = row.get(x).copied().unwrap_or(0);
                    // Paper adds exactly +0.0 (the weights are not negative): skipped, the
                    // result is the same bit for bit, and most of a drawing is paper.
                    if p == 0 {
                        continue;
                    }
                    sum += columns.weight(kx) * wy * f32::from(p);
                }
            }
            if let Some(o) = out.get_mut((oy + ty) * DIGIT_SIDE + ox + tx) {
                *o = sum / (sx * sy);
            }
        }
    }
}

/// Centre of mass (x, y) of a 28x28 image, in pixel-centre coordinates.
fn centre_of_mass(image: &[f32]) -> Option<(f32, f32)> {
    let (mut total, mut mx, mut my) = (0.0, 0.0, 0.0);
    for (i, &v) in image.iter().enumerate() {
        total += v;
        mx += v * ((i % DIGIT_SIDE) as f32 + 0.5);
        my += v * ((i / DIGIT_SIDE) as f32 + 0.5);
    }
    (total > 0.0).then(|| (mx / total, my / total))
}

/// Turns a `side x side` drawing (0 = paper) into a 28x28 MNIST-style digit (0 = background,
/// 255 = ink), or `None` for a blank drawing.
pub fn to_mnist(pixels: &[u8], side: usize) -> Option<[u8; DIGIT_SIDE * DIGIT_SIDE]> {
    let (left, right, top, bottom) = bounding_box(pixels, side)?;
    let (w, h) = (right - left, bottom - top);
    let scale = BOX_SIDE as f32 / w.max(h) as f32;
    let tw = (libm::roundf(w as f32 * scale) as usize).clamp(1, BOX_SIDE);
    let th = (libm::roundf(h as f32 * scale) as usize).clamp(1, BOX_SIDE);
    // First place the box in the centre, then shift it by whole pixels to centre its mass.
    let mut boxed = [0.0f32; DIGIT_SIDE * DIGIT_SIDE];
    let (ox, oy) = ((DIGIT_SIDE - tw) / 2, (DIGIT_SIDE - th) / 2);
    resample(
        pixels,
        side,
        (left, top, w, h),
        (ox, oy, tw, th),
        &mut boxed,
    );
    let (cx, cy) = centre_of_mass(&boxed)?;
    let half = DIGIT_SIDE as f32 / 2.0;
    let shift = |c: f32, start: usize, len: usize| -> isize {
        let wanted = libm::roundf(half - c) as isize;
        wanted.clamp(-(start as isize), (DIGIT_SIDE - start - len) as isize)
    };
    let (dx, dy) = (shift(cx, ox, tw), shift(cy, oy, th));
    let mut digit = [0u8; DIGIT_SIDE * DIGIT_SIDE];
    for (i, &v) in boxed.iter().enumerate() {
        let (x, y) = (
            (i % DIGIT_SIDE) as isize + dx,
            (i / DIGIT_SIDE) as isize + dy,
        );
        let inside = (0..DIGIT_SIDE as isize).contains(&x) && (0..DIGIT_SIDE as isize).contains(&y);
        if let (true, Some(d)) = (
            inside,
            digit.get_mut((y * DIGIT_SIDE as isize + x) as usize),
        ) {
            *d = libm::roundf(v).clamp(0.0, 255.0) as u8;
        }
    }
    Some(digit)
}
