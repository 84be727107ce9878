//! MNIST-shaped data sets held as bytes (a pixel costs 1 byte in memory, not 4) and converted to
//! `f32` in [0, 1] one batch at a time.

use ndarray::{Array2, ArrayViewMut2, Axis, s};

use super::idx::{IdxImages, read_idx_images, read_idx_labels};
use crate::error::{Error, Result};
use crate::parallel;

/// Held-out images taken from the 60,000 training images for validation, as in the lottery-ticket
/// paper (Frankle & Carbin 2019) and TensorFlow's `read_data_sets`: the first 5,000.
pub const VALIDATION_SIZE: usize = 5_000;

/// The four standard file names, in the order `Mnist::from_idx` takes them.
pub const FILE_NAMES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// The bytes of an images file and its labels file, when a part of a data set is given.
pub type IdxPair<'a> = Option<(&'a [u8], &'a [u8])>;

/// Images and labels of one split.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `len × features` bytes, row-major.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    features: usize,
    classes: usize,
}

impl Dataset {
    /// Builds a split, checking that pixels and labels agree and every label is below `classes`.
    pub fn new(pixels: Vec<u8>, labels: Vec<u8>, features: usize, classes: usize) -> Result<Self> {
        if features == 0 || pixels.len() != labels.len() * features {
            return Err(Error::DataMismatch(format!(
                "{} pixel bytes do not make {} images of {features} pixels",
                pixels.len(),
                labels.len()
            )));
        }
        if let Some((i, &l)) = labels
            .iter()
            .enumerate()
            .find(|&(_, &l)| usize::from(l) >= classes)
        {
            return Err(Error::DataMismatch(format!(
                "label {l} of sample {i} is not one of the {classes} classes"
            )));
        }
        Ok(Self {
            pixels,
            labels,
            features,
            classes,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw bytes of sample `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * self.features..(i + 1) * self.features]
    }

    /// The samples `start..end` (clamped to the data set) as a new data set.
    pub fn slice(&self, start: usize, end: usize) -> Dataset {
        let end = end.min(self.len());
        let start = start.min(end);
        Dataset {
            pixels: self.pixels[start * self.features..end * self.features].to_vec(),
            labels: self.labels[start..end].to_vec(),
            features: self.features,
            classes: self.classes,
        }
    }

    /// Writes samples `indices` scaled to [0, 1] into the first rows of `out` and returns their
    /// labels. `out` is reused across steps so training allocates nothing per batch.
    pub fn gather_into(
        &self,
        indices: &[usize],
        mut out: ArrayViewMut2<f32>,
        labels: &mut Vec<u8>,
    ) {
        labels.clear();
        labels.extend(indices.iter().map(|&i| self.labels[i]));
        // Blocks of rows, one per thread where the pass is split (the threaded wasm build).
        let rows = indices.len();
        let parts = parallel::elementwise_parts(rows * self.features).clamp(1, rows.max(1));
        let cut = rows.div_ceil(parts).max(1);
        let mut out = out.slice_mut(s![..rows, ..]);
        let blocks: Vec<_> = out
            .axis_chunks_iter_mut(Axis(0), cut)
            .zip(indices.chunks(cut))
            .collect();
        parallel::each(blocks, |(mut out, indices)| {
            for (mut dst, &i) in out.rows_mut().into_iter().zip(indices) {
                for (d, &s) in dst.iter_mut().zip(self.image(i)) {
                    *d = f32::from(s) * (1.0 / 255.0);
                }
            }
        });
    }

    /// Samples `start..end` as an `f32` matrix in [0, 1].
    pub fn batch(&self, start: usize, end: usize) -> (Array2<f32>, &[u8]) {
        let end = end.min(self.len());
        let start = start.min(end);
        let x = Array2::from_shape_fn((end - start, self.features), |(r, c)| {
            f32::from(self.pixels[(start + r) * self.features + c]) * (1.0 / 255.0)
        });
        (x, &self.labels[start..end])
    }
}

/// MNIST (or Fashion-MNIST): 55,000 training, 5,000 validation and 10,000 test images.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
    /// Image side lengths, for drawing weights as pictures.
    pub rows: usize,
    pub cols: usize,
}

/// Classes in MNIST and Fashion-MNIST.
pub(crate) const CLASSES: usize = 10;

/// An IDX image file and its label file, named `names` in errors, checked to hold as many
/// images as labels.
fn read_pair(names: [&str; 2], images: &[u8], labels: &[u8]) -> Result<(IdxImages, Vec<u8>)> {
    let x = read_idx_images(names[0], images)?;
    let y = read_idx_labels(names[1], labels)?;
    if x.count != y.len() {
        return Err(Error::DataMismatch(format!(
            "{} has {} images but {} has {} labels",
            names[0],
            x.count,
            names[1],
            y.len()
        )));
    }
    Ok((x, y))
}

impl Mnist {
    /// Parses the four IDX files (raw or gzip), in the order of [`FILE_NAMES`].
    pub fn from_idx(
        train_images: &[u8],
        train_labels: &[u8],
        test_images: &[u8],
        test_labels: &[u8],
    ) -> Result<Self> {
        let [tri, trl, tei, tel] = FILE_NAMES;
        let train = read_pair([tri, trl], train_images, train_labels)?;
        let test = read_pair([tei, tel], test_images, test_labels)?;
        Self::from_parts(tri, train, test)
    }

    /// The data set from read training and test files (images and labels, whose counts agree);
    /// `tri` names the training images file in errors.
    pub(crate) fn from_parts(
        tri: &str,
        (train_x, train_y): (IdxImages, Vec<u8>),
        (test_x, test_y): (IdxImages, Vec<u8>),
    ) -> Result<Self> {
        if (train_x.rows, train_x.cols) != (test_x.rows, test_x.cols) {
            return Err(Error::DataMismatch(format!(
                "training images are {}×{} but test images are {}×{}",
                train_x.rows, train_x.cols, test_x.rows, test_x.cols
            )));
        }
        if train_x.count <= VALIDATION_SIZE {
            return Err(Error::DataMismatch(format!(
                "{tri} has {} images; at least {} are needed ({VALIDATION_SIZE} are held out for validation)",
                train_x.count,
                VALIDATION_SIZE + 1
            )));
        }
        let features = train_x.rows * train_x.cols;
        let all = Dataset::new(train_x.pixels, train_y, features, CLASSES)?;
        let validation = all.slice(0, VALIDATION_SIZE);
        let train = all.slice(VALIDATION_SIZE, all.len());
        let test = Dataset::new(test_x.pixels, test_y, features, CLASSES)?;
        Ok(Self {
            train,
            validation,
            test,
            rows: train_x.rows,
            cols: train_x.cols,
        })
    }

    /// The data of a view that trains nothing (an embedded picture), each part only if given:
    /// the calibration images (the first images of the training split, all the data-aware
    /// pruning methods look at) stand in for the training split, and the test split is there for
    /// views that measure accuracy. There is no validation split. Images are 28×28 unless a
    /// given part says otherwise.
    pub fn for_pruning(calibration: IdxPair<'_>, test: IdxPair<'_>) -> Result<Self> {
        const CALIBRATION: [&str; 2] = [
            "calibration-images-idx3-ubyte.gz",
            "calibration-labels-idx1-ubyte.gz",
        ];
        let [.., test_images, test_labels] = FILE_NAMES;
        let read = |names: [&str; 2], part: IdxPair<'_>| -> Result<Option<_>> {
            part.map(|(x, y)| read_pair(names, x, y)).transpose()
        };
        let calibration = read(CALIBRATION, calibration)?;
        let test = read([test_images, test_labels], test)?;
        let side = |p: &Option<(IdxImages, Vec<u8>)>| p.as_ref().map(|(x, _)| (x.rows, x.cols));
        let (rows, cols) = match (side(&calibration), side(&test)) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::DataMismatch(format!(
                    "calibration images are {}×{} but test images are {}×{}",
                    a.0, a.1, b.0, b.1
                )));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => (28, 28),
        };
        let features = rows * cols;
        let split = |part: Option<(IdxImages, Vec<u8>)>| match part {
            Some((x, y)) => Dataset::new(x.pixels, y, features, CLASSES),
            None => Dataset::new(Vec::new(), Vec::new(), features, CLASSES),
        };
        Ok(Self {
            train: split(calibration)?,
            validation: split(None)?,
            test: split(test)?,
            rows,
            cols,
        })
    }

    /// Reads the four standard files from `dir` (e.g. `data/mnist`), gzip or not: for each name
    /// the `.gz` file is used when present, else the uncompressed one.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Self> {
        let read = |name: &str| -> Result<Vec<u8>> {
            let gz = dir.join(name);
            let path = if gz.exists() {
                gz
            } else {
                dir.join(name.trim_end_matches(".gz"))
            };
            std::fs::read(&path).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let [a, b, c, d] = FILE_NAMES;
        Self::from_idx(&read(a)?, &read(b)?, &read(c)?, &read(d)?)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An uncompressed IDX file of u8 values: `dims`, every value `fill` (also used by own.rs).
    pub(in crate::data) fn idx(dims: &[u32], fill: u8) -> Vec<u8> {
        let mut v = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.resize(v.len() + dims.iter().product::<u32>() as usize, fill);
        v
    }

    #[test]
    fn pruning_data_takes_each_part_only_if_given() {
        let calibration = (idx(&[7, 2, 2], 3), idx(&[7], 4));
        let test = (idx(&[3, 2, 2], 0), idx(&[3], 1));
        let both = Some((calibration.0.as_slice(), calibration.1.as_slice()));
        let data = Mnist::for_pruning(both, None).unwrap();
        assert_eq!(
            (data.train.len(), data.validation.len(), data.test.len()),
            (7, 0, 0)
        );
        assert_eq!((data.rows, data.cols, data.train.features()), (2, 2, 4));
        let data = Mnist::for_pruning(both, Some((&test.0, &test.1))).unwrap();
        assert_eq!(data.test.len(), 3);
        let data = Mnist::for_pruning(None, None).unwrap();
        assert_eq!((data.rows, data.cols, data.train.len()), (28, 28, 0));
        let e = Mnist::for_pruning(Some((&calibration.0, &idx(&[6], 4))), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("7 images but calibration-labels"), "{e}");
        let e = Mnist::for_pruning(both, Some((&idx(&[3, 3, 3], 0), &idx(&[3], 1))))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("calibration images are 2×2 but test images are 3×3"),
            "{e}"
        );
    }

    #[test]
    fn image_and_label_counts_must_agree() {
        let e = Mnist::from_idx(
            &idx(&[5_010, 2, 2], 0),
            &idx(&[5_009], 1),
            &idx(&[3, 2, 2], 0),
            &idx(&[3], 1),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("5010 images but train-labels-idx1-ubyte.gz has 5009 labels"),
            "{e}"
        );
    }

    #[test]
    fn labels_must_be_classes() {
        let e = Mnist::from_idx(
            &idx(&[5_010, 2, 2], 0),
            &idx(&[5_010], 1),
            &idx(&[3, 2, 2], 0),
            &idx(&[3], 10),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("label 10 of sample 0"), "{e}");
    }

    #[test]
    fn splits_first_five_thousand_for_validation() {
        let mut labels = idx(&[5_010], 0);
        let n = labels.len();
        labels[n - 10..].fill(7);
        let m = Mnist::from_idx(
            &idx(&[5_010, 2, 2], 9),
            &labels,
            &idx(&[3, 2, 2], 0),
            &idx(&[3], 1),
        )
        .unwrap();
        assert_eq!(
            (m.train.len(), m.validation.len(), m.test.len()),
            (10, 5_000, 3)
        );
        assert!(m.train.labels().iter().all(|&l| l == 7));
        let (x, y) = m.train.batch(0, 2);
        assert_eq!(x.shape(), &[2, 4]);
        assert!((x[[0, 0]] - 9.0 / 255.0).abs() < 1e-7);
        assert_eq!(y, &[7, 7]);
    }
}
