//! From a skeleton to finger strokes: the skeleton's pixels are a graph (neighbouring pixels
//! joined), and each stroke walks edges not yet drawn, as a pen would: it starts at the top-most
//! loose end (or, for closed loops, the top-most pixel), and at each fork goes the straightest
//! way on. Every edge is drawn exactly once, so the strokes cover the skeleton.

use mnist_files::idx::IMAGE_SIDE;

use crate::skeleton::{Bitmap, at};

/// A stroke: pixel-centre coordinates in the 28x28 frame, in drawing order.
pub type Stroke = Vec<(f32, f32)>;

/// A traced digit.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Strokes in drawing order (empty when the skeleton is).
    pub strokes: Vec<Stroke>,
    /// 8-connected pieces of the skeleton: more than one means the digit's ink is broken (or
    /// has specks), which a finger draws as separate strokes.
    pub pieces: usize,
}

type Pixel = (isize, isize);

/// The skeleton neighbours joined to `p`: the four direct neighbours, and a diagonal one only
/// when no direct neighbour of both already joins them (so a staircase is a path, not a chain of
/// triangles).
fn joined(skeleton: &Bitmap, (x, y): Pixel) -> Vec<Pixel> {
    let mut out = Vec::new();
    for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] {
        if at(skeleton, x + dx, y + dy) {
            out.push((x + dx, y + dy));
        }
    }
    for (dx, dy) in [(1, 1), (1, -1), (-1, 1), (-1, -1)] {
        let corner = at(skeleton, x + dx, y) || at(skeleton, x, y + dy);
        if at(skeleton, x + dx, y + dy) && !corner {
            out.push((x + dx, y + dy));
        }
    }
    out
}

fn index((x, y): Pixel) -> usize {
    y as usize * IMAGE_SIDE + x as usize
}

/// Traces `skeleton` into strokes.
pub fn trace(skeleton: &Bitmap) -> Trace {
    let pixels: Vec<Pixel> = (0..IMAGE_SIDE as isize)
        .flat_map(|y| (0..IMAGE_SIDE as isize).map(move |x| (x, y)))
        .filter(|&(x, y)| at(skeleton, x, y))
        .collect();
    let edges = |p: Pixel| joined(skeleton, p);
    let mut drawn = std::collections::HashSet::<(usize, usize)>::new();
    let key = |a: Pixel, b: Pixel| {
        let (a, b) = (index(a), index(b));
        (a.min(b), a.max(b))
    };
    let open = |p: Pixel, drawn: &std::collections::HashSet<(usize, usize)>| {
        edges(p)
            .into_iter()
            .filter(|&q| !drawn.contains(&key(p, q)))
            .collect::<Vec<_>>()
    };
    let mut strokes = Vec::new();
    // Pixels come in reading order (top row first), so `find` picks the top-most.
    loop {
        let with_open: Vec<(Pixel, usize)> = pixels
            .iter()
            .map(|&p| (p, open(p, &drawn).len()))
            .filter(|&(_, n)| n > 0)
            .collect();
        let Some(&(start, _)) = with_open
            .iter()
            .find(|&&(_, n)| n % 2 == 1)
            .or(with_open.first())
        else {
            break;
        };
        let mut stroke = vec![start];
        let (mut here, mut heading) = (start, None::<(f32, f32)>);
        while let Some(next) = straightest(here, heading, open(here, &drawn)) {
            drawn.insert(key(here, next));
            let step = ((next.0 - here.0) as f32, (next.1 - here.1) as f32);
            // A heading smoothed over the last steps, so a staircase reads as a slant.
            heading = Some(match heading {
                None => step,
                Some(h) => (0.5 * h.0 + step.0, 0.5 * h.1 + step.1),
            });
            stroke.push(next);
            here = next;
        }
        strokes.push(stroke);
    }
    // Lone pixels (no neighbour) are dots.
    for &p in &pixels {
        if edges(p).is_empty() {
            strokes.push(vec![p]);
        }
    }
    Trace {
        strokes: strokes
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .map(|(x, y)| (x as f32 + 0.5, y as f32 + 0.5))
                    .collect()
            })
            .collect(),
        pieces: pieces(skeleton, &pixels),
    }
}

/// The candidate that turns least from `heading` (any, for the first step).
fn straightest(here: Pixel, heading: Option<(f32, f32)>, candidates: Vec<Pixel>) -> Option<Pixel> {
    let turn = |p: &Pixel| {
        let step = ((p.0 - here.0) as f32, (p.1 - here.1) as f32);
        match heading {
            // Cosine of the angle between heading and step, negated: smaller is straighter.
            Some(h) => -(h.0 * step.0 + h.1 * step.1) / (h.0.hypot(h.1) * step.0.hypot(step.1)),
            None => 0.0,
        }
    };
    candidates
        .into_iter()
        .min_by(|a, b| turn(a).total_cmp(&turn(b)))
}

/// 8-connected pieces of the skeleton.
fn pieces(skeleton: &Bitmap, pixels: &[Pixel]) -> usize {
    let mut seen = vec![false; skeleton.len()];
    let mut count = 0;
    for &p in pixels {
        if seen[index(p)] {
            continue;
        }
        count += 1;
        let mut stack = vec![p];
        seen[index(p)] = true;
        while let Some((x, y)) = stack.pop() {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let q = (x + dx, y + dy);
                    if at(skeleton, q.0, q.1) && !seen[index(q)] {
                        seen[index(q)] = true;
                        stack.push(q);
                    }
                }
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skeleton::bitmap;
    use mnist_files::idx::IMAGE_PIXELS;

    fn edges_drawn(trace: &Trace) -> usize {
        trace.strokes.iter().map(|s| s.len() - 1).sum()
    }

    #[test]
    fn a_line_is_one_stroke_from_its_top_end() {
        let t = trace(&bitmap(&["", "   #", "   #", "    #", "     #"]));
        assert_eq!(t.strokes.len(), 1);
        assert_eq!(t.strokes[0].first(), Some(&(3.5, 1.5)));
        assert_eq!(t.strokes[0].last(), Some(&(5.5, 4.5)));
        assert_eq!(t.pieces, 1);
    }

    #[test]
    fn a_loop_is_one_closed_stroke() {
        let t = trace(&bitmap(&["", " ###", " # #", " ###"]));
        assert_eq!(t.strokes.len(), 1);
        assert_eq!(t.strokes[0].first(), t.strokes[0].last());
        assert_eq!(edges_drawn(&t), 8);
    }

    #[test]
    fn a_cross_goes_straight_through_the_fork() {
        // A plus sign: two strokes, each straight through the centre.
        let t = trace(&bitmap(&["", "   #", "   #", " #####", "   #", "   #"]));
        assert_eq!(t.strokes.len(), 2);
        for s in &t.strokes {
            let xs: Vec<f32> = s.iter().map(|p| p.0).collect();
            let ys: Vec<f32> = s.iter().map(|p| p.1).collect();
            let straight = xs.iter().all(|&x| x == xs[0]) || ys.iter().all(|&y| y == ys[0]);
            assert!(straight, "{s:?}");
        }
        assert_eq!(edges_drawn(&t), 8);
    }

    #[test]
    fn broken_ink_and_specks_are_counted_and_drawn() {
        let t = trace(&bitmap(&["", " ##   #", "", "        #"]));
        assert_eq!(t.pieces, 3);
        assert_eq!(t.strokes.len(), 3);
        let empty = trace(&[false; IMAGE_PIXELS]);
        assert!(empty.strokes.is_empty());
        assert_eq!(empty.pieces, 0);
    }
}
