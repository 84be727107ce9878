//! A visitor's own data set: the four IDX files of any 28×28, 10-class data set, picked in any
//! order and under any names. A file picker gives no order, and names such as `images.gz` say
//! nothing, so each file is told apart by its header (an image file has 3 dimensions, a label
//! file 1) and training from test by the counts; names are the last resort, only where the counts
//! are equal.

use super::dataset::{CLASSES, Mnist};
use super::idx::{IdxFile, IdxImages, read_idx};
use crate::error::{Error, Result};

/// The side of the images the page's networks read (784 inputs).
const SIDE: usize = 28;

/// The data set, and which file turned out to be which (for the page to say so).
#[derive(Debug, Clone)]
pub struct OwnFiles {
    pub mnist: Mnist,
    /// The names of the training images, training labels, test images and test labels.
    pub roles: [String; 4],
}

/// What a name says about its split, when it says anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    Train,
    Test,
}

fn split_in_name(name: &str) -> Option<Split> {
    let name = name.to_lowercase();
    if name.contains("t10k") || name.contains("test") {
        Some(Split::Test)
    } else if name.contains("train") {
        Some(Split::Train)
    } else {
        None
    }
}

/// Orders two files of one kind as (training, test): the one with more items trains (the test
/// split is the smaller in every such data set); with equal counts only the names can tell.
fn order<'a, T>(
    what: &str,
    a: (&'a str, T),
    b: (&'a str, T),
    count: impl Fn(&T) -> usize,
) -> Result<[(&'a str, T); 2]> {
    let (ca, cb) = (count(&a.1), count(&b.1));
    if ca != cb {
        return Ok(if ca > cb { [a, b] } else { [b, a] });
    }
    match (split_in_name(a.0), split_in_name(b.0)) {
        (Some(Split::Test), s) if s != Some(Split::Test) => Ok([b, a]),
        (s, Some(Split::Test)) if s != Some(Split::Test) => Ok([a, b]),
        (Some(Split::Train), None) => Ok([a, b]),
        (None, Some(Split::Train)) => Ok([b, a]),
        _ => Err(Error::DataMismatch(format!(
            "{} and {} are both {what} files of {ca} items: name the test split's files with \
             \"test\" or \"t10k\" so that they can be told apart",
            a.0, b.0
        ))),
    }
}

/// Reads four IDX files (raw or gzip, in any order) into a data set, split as MNIST is: the
/// first 5,000 training images validate, the rest train. Every error names the file.
pub fn from_own_files(files: &[(&str, &[u8])]) -> Result<OwnFiles> {
    if files.len() != 4 {
        return Err(Error::DataMismatch(format!(
            "{} file{} picked: a data set is four IDX files, the training images and labels and \
             the test images and labels",
            files.len(),
            if files.len() == 1 { " was" } else { "s were" }
        )));
    }
    let mut images: Vec<(&str, IdxImages)> = Vec::new();
    let mut labels: Vec<(&str, Vec<u8>)> = Vec::new();
    for &(name, bytes) in files {
        match read_idx(name, bytes)? {
            IdxFile::Images(x) => {
                if (x.rows, x.cols) != (SIDE, SIDE) {
                    return Err(Error::idx(
                        name,
                        format!(
                            "images of {}×{} pixels; the networks here read {SIDE}×{SIDE}",
                            x.rows, x.cols
                        ),
                    ));
                }
                images.push((name, x));
            }
            IdxFile::Labels(y) => {
                if let Some((i, &l)) = y
                    .iter()
                    .enumerate()
                    .find(|&(_, &l)| usize::from(l) >= CLASSES)
                {
                    return Err(Error::idx(
                        name,
                        format!(
                            "label {l} at item {i}; the networks here tell {CLASSES} classes \
                             apart, labelled 0 to {}",
                            CLASSES - 1
                        ),
                    ));
                }
                labels.push((name, y));
            }
        }
    }
    // Said before the files move into their pairs, for when they do not make two pairs.
    let kinds = {
        let names = |v: Vec<&str>| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        format!(
            "a data set is two image files and two label files; these are {} image file{} ({}) \
             and {} label file{} ({})",
            images.len(),
            plural(images.len()),
            names(images.iter().map(|(n, _)| *n).collect()),
            labels.len(),
            plural(labels.len()),
            names(labels.iter().map(|(n, _)| *n).collect()),
        )
    };
    let (Ok([xa, xb]), Ok([ya, yb])) = (<[_; 2]>::try_from(images), <[_; 2]>::try_from(labels))
    else {
        return Err(Error::DataMismatch(kinds));
    };
    let [(tri, train_x), (tei, test_x)] = order("image", xa, xb, |x| x.count)?;
    let (train_n, test_n) = (train_x.count, test_x.count);
    let [(trl, train_y), (tel, test_y)] = if train_n == test_n {
        order("label", ya, yb, Vec::len)?
    } else {
        // Each label file goes with the image file of its count.
        let mut pair = [ya, yb];
        if pair[0].1.len() != train_n {
            pair.swap(0, 1);
        }
        for ((name, y), (images_name, n)) in pair.iter().zip([(tri, train_n), (tei, test_n)]) {
            if y.len() != n {
                return Err(Error::DataMismatch(format!(
                    "{name} has {} labels, but the image files hold {train_n} ({tri}) and \
                     {test_n} ({tei}) images: {images_name} has no label file of its count",
                    y.len()
                )));
            }
        }
        pair
    };
    if train_y.len() != train_n || test_y.len() != test_n {
        return Err(Error::DataMismatch(format!(
            "{tri} has {train_n} images but {trl} has {} labels, and {tei} has {test_n} images \
             but {tel} has {} labels",
            train_y.len(),
            test_y.len()
        )));
    }
    let mnist = Mnist::from_parts(tri, (train_x, train_y), (test_x, test_y))?;
    Ok(OwnFiles {
        mnist,
        roles: [tri, trl, tei, tel].map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::tests::idx;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A small data set: 5,010 training and 20 test images, all pixels `fill`.
    fn set() -> [Vec<u8>; 4] {
        [
            idx(&[5_010, 28, 28], 1),
            idx(&[5_010], 3),
            idx(&[20, 28, 28], 2),
            idx(&[20], 4),
        ]
    }

    fn message(r: Result<OwnFiles>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn files_in_any_order_and_under_any_names_are_sorted_by_their_headers() {
        let [a, b, c, d] = set();
        let gz = gzip(&a);
        // Shuffled, one gzip, names that say nothing.
        let files = [
            ("z.bin", d.as_slice()),
            ("x.gz", gz.as_slice()),
            ("y.bin", c.as_slice()),
            ("w.bin", b.as_slice()),
        ];
        let own = from_own_files(&files).unwrap();
        assert_eq!(own.roles, ["x.gz", "w.bin", "y.bin", "z.bin"]);
        let m = own.mnist;
        assert_eq!(
            (m.train.len(), m.validation.len(), m.test.len()),
            (10, 5_000, 20)
        );
        assert_eq!((m.train.image(0)[0], m.train.labels()[0]), (1, 3));
        assert_eq!((m.test.image(0)[0], m.test.labels()[0]), (2, 4));
    }

    #[test]
    fn equal_counts_are_told_apart_by_name_or_refused() {
        let x = idx(&[5_010, 28, 28], 1);
        let y = idx(&[5_010], 1);
        let named = [
            ("my-test-images", x.as_slice()),
            ("my-train-labels", y.as_slice()),
            ("my-train-images", x.as_slice()),
            ("my-test-labels", y.as_slice()),
        ];
        let own = from_own_files(&named).unwrap();
        assert_eq!(
            own.roles,
            [
                "my-train-images",
                "my-train-labels",
                "my-test-images",
                "my-test-labels"
            ]
        );
        let unnamed = [
            ("a", x.as_slice()),
            ("b", y.as_slice()),
            ("c", x.as_slice()),
            ("d", y.as_slice()),
        ];
        let m = message(from_own_files(&unnamed));
        assert!(
            m.contains("a and c are both image files of 5010 items"),
            "{m}"
        );
    }

    #[test]
    fn every_failure_names_the_file_or_the_files() {
        let [a, b, c, d] = set();
        let m = message(from_own_files(&[("a", a.as_slice())]));
        assert!(m.starts_with("1 file was picked"), "{m}");
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
            ("a2", a.as_slice()),
        ]));
        assert!(
            m.contains("3 image files (a, c, a2) and 1 label file (b)"),
            "{m}"
        );
        let mut cut = d.clone();
        cut.pop();
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
            ("labels.idx", cut.as_slice()),
        ]));
        assert!(m.starts_with("labels.idx: truncated"), "{m}");
        let small = idx(&[20, 32, 32], 0);
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("big.idx", small.as_slice()),
            ("d", d.as_slice()),
        ]));
        assert!(m.contains("big.idx: images of 32×32 pixels"), "{m}");
        let eleven = idx(&[20], 10);
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
            ("l", eleven.as_slice()),
        ]));
        assert!(m.contains("l: label 10 at item 0"), "{m}");
        let odd = idx(&[21], 1);
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
            ("odd", odd.as_slice()),
        ]));
        assert!(
            m.contains("odd has 21 labels, but the image files hold 5010 (a) and 20 (c)"),
            "{m}"
        );
        let m = message(from_own_files(&[
            ("a", a.as_slice()),
            ("b", b.as_slice()),
            ("c", c.as_slice()),
            ("junk", b"<html>not found</html>".as_slice()),
        ]));
        assert!(m.starts_with("junk: not an IDX or gzip file"), "{m}");
        // Too few training images for the 5,000 held out to validate.
        let few = (idx(&[30, 28, 28], 0), idx(&[30], 0));
        let m = message(from_own_files(&[
            ("few-x", few.0.as_slice()),
            ("few-y", few.1.as_slice()),
            ("c", c.as_slice()),
            ("d", d.as_slice()),
        ]));
        assert!(m.contains("few-x has 30 images; at least 5001"), "{m}");
    }
}
