//! From a grey-level digit to its centre line: threshold the ink, then thin it (Zhang and Suen,
//! "A fast parallel algorithm for thinning digital patterns", CACM 1984) down to a one-pixel
//! wide, 8-connected skeleton that keeps the shape's topology: a 0 stays a loop, an 8 two.

use mnist_files::idx::{IMAGE_PIXELS, IMAGE_SIDE};

/// Grey level from which a pixel counts as ink: MNIST's anti-aliased edges are lighter, so this
/// keeps the pen's core and drops the fringe. Of 64, 96, 128, 160 and 192 it is the one whose
/// redrawn digits the MNIST-trained cnn-bn reads best, the most faithful redraw (docs/redrawn.md).
pub const INK_THRESHOLD: u8 = 160;

/// A binary 28x28 image, row-major.
pub type Bitmap = [bool; IMAGE_PIXELS];

/// Pixels at or above [`INK_THRESHOLD`].
pub fn threshold(image: &[u8]) -> Bitmap {
    let mut ink = [false; IMAGE_PIXELS];
    for (i, &p) in ink.iter_mut().zip(image) {
        *i = p >= INK_THRESHOLD;
    }
    ink
}

/// Whether (x, y) is set; outside the image is background.
pub fn at(bitmap: &Bitmap, x: isize, y: isize) -> bool {
    let side = IMAGE_SIDE as isize;
    (0..side).contains(&x) && (0..side).contains(&y) && bitmap[(y * side + x) as usize]
}

/// The 8 neighbours P2..P9 of Zhang and Suen's paper: north, then clockwise.
const NEIGHBOURS: [(isize, isize); 8] = [
    (0, -1),
    (1, -1),
    (1, 0),
    (1, 1),
    (0, 1),
    (-1, 1),
    (-1, 0),
    (-1, -1),
];

/// Thins `ink` to its skeleton.
pub fn thin(mut ink: Bitmap) -> Bitmap {
    let side = IMAGE_SIDE as isize;
    loop {
        let mut changed = false;
        for pass in 0..2 {
            let mut remove = Vec::new();
            for y in 0..side {
                for x in 0..side {
                    if !at(&ink, x, y) {
                        continue;
                    }
                    let p: [bool; 8] = NEIGHBOURS.map(|(dx, dy)| at(&ink, x + dx, y + dy));
                    let set = p.iter().filter(|&&b| b).count();
                    // 0 -> 1 transitions in the cyclic sequence P2, P3, ..., P9, P2.
                    let transitions = (0..8).filter(|&k| !p[k] && p[(k + 1) % 8]).count();
                    let [p2, _, p4, _, p6, _, p8, _] = p;
                    // The paper's conditions: P2*P4*P6 = 0 and P4*P6*P8 = 0 (south-east pass),
                    // then P2*P4*P8 = 0 and P2*P6*P8 = 0 (north-west pass).
                    let not_all = |a: bool, b: bool, c: bool| !(a && b && c);
                    let deletable = if pass == 0 {
                        not_all(p2, p4, p6) && not_all(p4, p6, p8)
                    } else {
                        not_all(p2, p4, p8) && not_all(p2, p6, p8)
                    };
                    if (2..=6).contains(&set) && transitions == 1 && deletable {
                        remove.push((y * side + x) as usize);
                    }
                }
            }
            changed |= !remove.is_empty();
            for i in remove {
                ink[i] = false;
            }
        }
        if !changed {
            return ink;
        }
    }
}

/// The skeleton of a grey-level digit: [`threshold`] then [`thin`].
pub fn skeleton(image: &[u8]) -> Bitmap {
    thin(threshold(image))
}

/// A bitmap drawn in text, for tests: one string per row from the top, `#` for a set pixel.
#[cfg(test)]
pub(crate) fn bitmap(rows: &[&str]) -> Bitmap {
    let mut b = [false; IMAGE_PIXELS];
    for (y, row) in rows.iter().enumerate() {
        for (x, c) in row.chars().enumerate() {
            b[y * IMAGE_SIDE + x] = c == '#';
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(b: &Bitmap) -> usize {
        b.iter().filter(|&&p| p).count()
    }

    #[test]
    fn a_thick_bar_thins_to_a_line() {
        let bar = bitmap(&["", "", "  ##########", "  ##########", "  ##########"]);
        let thin = thin(bar);
        assert!(count(&thin) >= 6 && count(&thin) <= 10, "{}", count(&thin));
        // One pixel wide: no column has two pixels.
        for x in 0..IMAGE_SIDE as isize {
            assert!(
                (0..IMAGE_SIDE as isize)
                    .filter(|&y| at(&thin, x, y))
                    .count()
                    <= 1
            );
        }
    }

    #[test]
    fn a_ring_stays_a_ring() {
        let ring = bitmap(&[
            "",
            "   #####",
            "  #######",
            "  ##   ##",
            "  ##   ##",
            "  ##   ##",
            "  #######",
            "   #####",
        ]);
        let thin = thin(ring);
        // Still encloses the hole: the centre is background and every skeleton pixel has two
        // skeleton neighbours or more.
        assert!(!at(&thin, 5, 4));
        for y in 0..IMAGE_SIDE as isize {
            for x in 0..IMAGE_SIDE as isize {
                if at(&thin, x, y) {
                    let n = NEIGHBOURS
                        .iter()
                        .filter(|(dx, dy)| at(&thin, x + dx, y + dy))
                        .count();
                    assert!(n >= 2, "({x}, {y}) has {n} neighbours");
                }
            }
        }
    }

    #[test]
    fn light_fringes_are_not_ink() {
        let mut image = [0u8; IMAGE_PIXELS];
        image[0] = INK_THRESHOLD - 1;
        image[1] = INK_THRESHOLD;
        assert_eq!(count(&threshold(&image)), 1);
        assert_eq!(count(&skeleton(&[0; IMAGE_PIXELS])), 0);
    }
}
