//! Data: the IDX reader and the MNIST / Fashion-MNIST data set with its train / validation / test
//! split.

mod dataset;
mod idx;
mod own;

pub use dataset::{Dataset, IdxPair, Mnist, VALIDATION_SIZE};
pub use idx::{IdxFile, IdxImages, read_idx, read_idx_images, read_idx_labels};
pub use own::{OwnFiles, from_own_files};
