//! Data: the IDX reader and the MNIST / Fashion-MNIST data set with its train / validation / test
//! split.

mod dataset;
mod idx;

pub use dataset::{Dataset, IdxPair, Mnist, VALIDATION_SIZE};
pub use idx::{IdxImages, read_idx_images, read_idx_labels};
