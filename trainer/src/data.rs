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
