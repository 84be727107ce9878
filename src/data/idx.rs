//! Reader for the IDX format that MNIST ships in (<http://yann.lecun.com/exdb/mnist/>, "FILE
//! FORMATS"), raw or gzip-compressed.
//!
//! Layout: two zero bytes, a type code (0x08 = unsigned byte), the number of dimensions, then each
//! dimension as a big-endian u32, then the data in row-major order. Every check below exists
//! because a truncated download or a wrong file otherwise turns into silently wrong training.

use std::io::Read;

use flate2::read::GzDecoder;

use crate::error::{Error, Result};

/// Type code of unsigned bytes, the only element type MNIST uses.
const TYPE_U8: u8 = 0x08;
/// The two bytes every gzip stream starts with (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Upper bound on a decompressed file: the largest MNIST file is 47 MB. A bound keeps a corrupt or
/// hostile file from exhausting memory (a "zip bomb").
const MAX_DECOMPRESSED_BYTES: u64 = 256 * 1024 * 1024;

/// Images from an IDX3 file: `count` images of `rows × cols` bytes, one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// Reads an image file (3 dimensions). `file` names it in error messages.
pub fn read_idx_images(file: &str, bytes: &[u8]) -> Result<IdxImages> {
    let (dims, data) = parse(file, bytes, 3)?;
    images(file, &dims, data)
}

/// Reads a label file (1 dimension). `file` names it in error messages.
pub fn read_idx_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let (_, data) = parse(file, bytes, 1)?;
    Ok(data)
}

/// One IDX file of either kind, told apart by its header: what a file picker gives, where the
/// names may say nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdxFile {
    Images(IdxImages),
    Labels(Vec<u8>),
}

/// Reads an image file (3 dimensions) or a label file (1 dimension), whichever `bytes` holds.
/// A file of neither kind gets the same errors as [`read_idx_images`] gives.
pub fn read_idx(file: &str, bytes: &[u8]) -> Result<IdxFile> {
    let raw = decompress(file, bytes)?;
    if raw.len() >= 4 && raw[0] == 0 && raw[1] == 0 && raw[2] == TYPE_U8 && raw[3] == 1 {
        let (_, data) = parse_raw(file, raw, 1)?;
        return Ok(IdxFile::Labels(data));
    }
    if raw.len() >= 4 && raw[0] == 0 && raw[1] == 0 && raw[2] == TYPE_U8 && raw[3] != 3 {
        return Err(Error::idx(
            file,
            format!(
                "has {} dimensions: an image file has 3, a label file has 1",
                raw[3]
            ),
        ));
    }
    let (dims, data) = parse_raw(file, raw, 3)?;
    images(file, &dims, data).map(IdxFile::Images)
}

/// Images from a checked 3-dimensional header and its data.
fn images(file: &str, dims: &[usize], pixels: Vec<u8>) -> Result<IdxImages> {
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if rows == 0 || cols == 0 {
        return Err(Error::idx(file, format!("images of {rows}×{cols} pixels")));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels,
    })
}

/// The IDX bytes of `bytes`, gunzipped when it is gzip.
fn decompress(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.starts_with(&GZIP_MAGIC) {
        gunzip(file, bytes)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Decompresses if needed, checks the header against `expected_dims` and the length against the
/// header, and returns the dimensions and the element bytes.
fn parse(file: &str, bytes: &[u8], expected_dims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    parse_raw(file, decompress(file, bytes)?, expected_dims)
}

/// [`parse`] on bytes already decompressed.
fn parse_raw(file: &str, raw: Vec<u8>, expected_dims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    if raw.len() < 4 {
        return Err(Error::idx(
            file,
            format!("{} bytes is too short for an IDX header", raw.len()),
        ));
    }
    if raw[0] != 0 || raw[1] != 0 {
        return Err(Error::idx(
            file,
            format!(
                "not an IDX or gzip file (starts with {:02x} {:02x} {:02x} {:02x}; IDX starts with 00 00)",
                raw[0], raw[1], raw[2], raw[3]
            ),
        ));
    }
    if raw[2] != TYPE_U8 {
        return Err(Error::idx(
            file,
            format!(
                "element type 0x{:02x} is not supported (MNIST uses unsigned bytes, 0x08)",
                raw[2]
            ),
        ));
    }
    let ndims = usize::from(raw[3]);
    if ndims != expected_dims {
        let what = if expected_dims == 3 {
            "an image file"
        } else {
            "a label file"
        };
        return Err(Error::idx(
            file,
            format!("has {ndims} dimensions, {what} has {expected_dims}"),
        ));
    }
    let header_len = 4 + 4 * ndims;
    if raw.len() < header_len {
        return Err(Error::idx(
            file,
            format!("truncated header: {} of {header_len} bytes", raw.len()),
        ));
    }
    let dims: Vec<usize> = raw[4..header_len]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::idx(file, format!("dimensions {dims:?} overflow")))?;
    let actual = raw.len() - header_len;
    if actual != expected {
        let kind = if actual < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(Error::idx(
            file,
            format!(
                "{kind}: the header {dims:?} needs {expected} data bytes, the file has {actual}"
            ),
        ));
    }
    let mut data = raw;
    data.drain(..header_len);
    Ok((dims, data))
}

fn gunzip(file: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    GzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::idx(file, format!("corrupt gzip data ({e})")))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(Error::idx(
            file,
            format!("decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, TYPE_U8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn message(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn reads_raw_and_gzip_images() {
        let file = idx(&[2, 2, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        for bytes in [file.clone(), gzip(&file)] {
            let images = read_idx_images("x", &bytes).unwrap();
            assert_eq!((images.count, images.rows, images.cols), (2, 2, 3));
            assert_eq!(images.pixels, (1..=12).collect::<Vec<u8>>());
        }
    }

    #[test]
    fn reads_labels() {
        assert_eq!(
            read_idx_labels("l", &idx(&[3], &[7, 0, 9])).unwrap(),
            vec![7, 0, 9]
        );
    }

    #[test]
    fn truncated_data_is_an_error_naming_the_file() {
        let m = message(read_idx_images("train.gz", &idx(&[2, 2, 2], &[0; 7])));
        assert!(m.starts_with("train.gz: truncated"), "{m}");
        let m = message(read_idx_labels("l", &[0, 0, 8]));
        assert!(m.contains("too short"), "{m}");
        let m = message(read_idx_labels("l", &[0, 0, 8, 1, 0, 0]));
        assert!(m.contains("truncated header"), "{m}");
    }

    #[test]
    fn trailing_bytes_are_an_error() {
        let m = message(read_idx_labels("l", &idx(&[2], &[1, 2, 3])));
        assert!(m.contains("too long"), "{m}");
    }

    #[test]
    fn wrong_magic_is_an_error() {
        let m = message(read_idx_labels("l", b"PK\x03\x04rest"));
        assert!(m.contains("not an IDX or gzip file"), "{m}");
        let mut f = idx(&[1], &[0]);
        f[2] = 0x0D; // float32
        assert!(message(read_idx_labels("l", &f)).contains("element type 0x0d"));
    }

    #[test]
    fn wrong_number_of_dimensions_is_an_error() {
        let m = message(read_idx_images("img", &idx(&[4], &[0; 4])));
        assert!(m.contains("has 1 dimensions, an image file has 3"), "{m}");
        let m = message(read_idx_labels("lab", &idx(&[1, 1, 1], &[0])));
        assert!(m.contains("a label file has 1"), "{m}");
        let m = message(read_idx_images("img", &idx(&[1, 0, 28], &[])));
        assert!(m.contains("0×28"), "{m}");
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut g = gzip(&idx(&[3], &[1, 2, 3]));
        let n = g.len();
        g.truncate(n - 6);
        let m = message(read_idx_labels("labels.gz", &g));
        assert!(m.contains("corrupt gzip"), "{m}");
        let m = message(read_idx_labels("labels.gz", &[0x1f, 0x8b, 1, 2, 3]));
        assert!(m.contains("corrupt gzip"), "{m}");
    }

    #[test]
    fn read_idx_tells_images_from_labels_by_the_header() {
        let images = idx(&[1, 2, 2], &[1, 2, 3, 4]);
        let labels = idx(&[2], &[5, 6]);
        for bytes in [images.clone(), gzip(&images)] {
            match read_idx("a", &bytes).unwrap() {
                IdxFile::Images(x) => assert_eq!((x.count, x.rows, x.cols), (1, 2, 2)),
                IdxFile::Labels(_) => panic!("images read as labels"),
            }
        }
        assert_eq!(
            read_idx("b", &gzip(&labels)).unwrap(),
            IdxFile::Labels(vec![5, 6])
        );
        let m = message(read_idx("c", &idx(&[1, 1], &[0])));
        assert!(
            m.contains("c: has 2 dimensions: an image file has 3"),
            "{m}"
        );
        let m = message(read_idx("d", b"hello"));
        assert!(m.contains("d: not an IDX or gzip file"), "{m}");
        let m = message(read_idx("e", &idx(&[2], &[1])));
        assert!(m.contains("e: truncated"), "{m}");
    }

    #[test]
    fn overflowing_dimensions_are_an_error() {
        let m = message(read_idx_images(
            "x",
            &idx(&[u32::MAX, u32::MAX, u32::MAX], &[]),
        ));
        assert!(m.contains("overflow") || m.contains("truncated"), "{m}");
    }
}
