//! The training data: MNIST through [`mnist_files`]'s strict reader (re-exported here), pixels
//! scaled as the codelab scales them, and seeded, reshuffled mini-batches.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

pub use mnist_files::idx::{
    CLASSES, Checksum, DataError, FileKind, IMAGE_PIXELS, IMAGE_SIDE, Mnist, Split, parse_images,
    parse_labels,
};

/// The codelab scales pixels by 1/256 (not 1/255); the ONNX and flat exports document the same.
pub const PIXEL_SCALE: f32 = 1.0 / 256.0;

/// Pixels of the given images of `data` scaled by [`PIXEL_SCALE`], concatenated.
pub fn scaled_pixels(data: &Mnist, indices: &[usize]) -> Vec<f32> {
    indices
        .iter()
        .flat_map(|&i| data.image(i).iter().map(|&p| f32::from(p) * PIXEL_SCALE))
        .collect()
}

/// `train` followed by the redrawn forms of its digits (crate `redraw`: finger strokes through
/// the board's touch pipeline, digit `i` with panel jitter seeded `seed + i`), labelled as their
/// originals; a digit with no ink to draw has no redrawn form. (MNIST's 60,000: 5 s on two
/// cores.)
pub fn with_redrawn(train: &Mnist, seed: u64) -> Mnist {
    let images: Vec<&[u8]> = (0..train.len()).map(|i| train.image(i)).collect();
    let mut set = train.clone();
    for (digit, &label) in redraw::redraw_all(&images, Some(seed))
        .iter()
        .zip(&train.labels)
    {
        if let Some(pixels) = digit {
            set.pixels.extend_from_slice(pixels);
            set.labels.push(label);
        }
    }
    set
}

/// Mini-batch order for one training run: a fresh permutation every epoch, all drawn from one
/// seeded RNG so a run is reproducible from its seed.
pub struct Shuffler {
    rng: StdRng,
    order: Vec<usize>,
}

impl Shuffler {
    /// A shuffler over `len` items.
    pub fn new(len: usize, seed: u64) -> Self {
        Shuffler {
            rng: StdRng::seed_from_u64(seed),
            order: (0..len).collect(),
        }
    }

    /// Reshuffles and returns this epoch's batches of indices (the last one may be smaller).
    pub fn epoch(&mut self, batch_size: usize) -> Vec<Vec<usize>> {
        self.order.shuffle(&mut self.rng);
        self.order
            .chunks(batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrawn_digits_follow_the_originals_with_their_labels() {
        // A vertical bar (a 1), a blank image (nothing to draw) and a horizontal bar (labelled 7).
        let mut pixels = vec![0u8; 3 * IMAGE_PIXELS];
        for k in 5..23 {
            pixels[k * IMAGE_SIDE + 14] = 255;
            pixels[2 * IMAGE_PIXELS + 14 * IMAGE_SIDE + k] = 255;
        }
        let train = Mnist {
            pixels,
            labels: vec![1, 0, 7],
        };
        let set = with_redrawn(&train, 5);
        assert_eq!(set.labels, [1, 0, 7, 1, 7]);
        assert_eq!(set.pixels[..3 * IMAGE_PIXELS], train.pixels);
        assert_eq!(
            Some(set.image(3)),
            redraw::redraw(train.image(0), Some(&mut redraw::Jitter::panel(5)))
                .as_ref()
                .map(|d| &d[..])
        );
    }

    #[test]
    fn shuffler_is_seeded_and_reshuffles_each_epoch() {
        let mut a = Shuffler::new(100, 7);
        let mut b = Shuffler::new(100, 7);
        let (a1, a2) = (a.epoch(32), a.epoch(32));
        assert_eq!(a1, b.epoch(32));
        assert_ne!(a1, a2);
        assert_eq!(a1.len(), 4);
        assert_eq!(a1[3].len(), 4);
        let mut all: Vec<usize> = a2.concat();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn pixels_are_scaled_by_one_over_256() {
        let mnist = Mnist {
            pixels: vec![255; IMAGE_PIXELS],
            labels: vec![0],
        };
        assert_eq!(scaled_pixels(&mnist, &[0])[0], 255.0 / 256.0);
    }
}
