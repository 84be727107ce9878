//! Reading and writing f32 tensors, shared by the MLP's and the ViT's checkpoints.

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};

/// Little-endian bytes, safetensors' byte order for every dtype.
pub(super) fn le_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

/// `(name, shape, bytes)` of f32 tensors, serialised with `metadata`.
pub(super) fn serialize(
    buffers: &[(String, Vec<usize>, Vec<u8>)],
    metadata: std::collections::HashMap<String, String>,
) -> Result<Vec<u8>> {
    let views = buffers
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|v| (name.clone(), v))
                .map_err(|e| Error::checkpoint(name, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::checkpoint("(serialising)", e.to_string()))
}

/// Ok for float32; otherwise the message saying how to save float32 from PyTorch.
pub(super) fn require_f32(file: &str, name: &str, dtype: Dtype) -> Result<()> {
    if dtype == Dtype::F32 {
        return Ok(());
    }
    Err(Error::checkpoint(
        file,
        format!(
            "{name} is {dtype:?}; PrunePlay reads float32 (use tensor.float() before saving: \
             {{k: v.float().contiguous() for k, v in model.state_dict().items()}})"
        ),
    ))
}

/// The tensor's view, or "missing tensor {name}"; refuses any dtype but F32.
pub(super) fn f32_view<'a>(st: &SafeTensors<'a>, file: &str, name: &str) -> Result<TensorView<'a>> {
    let t = st
        .tensor(name)
        .map_err(|_| Error::checkpoint(file, format!("missing tensor {name}")))?;
    require_f32(file, name, t.dtype())?;
    Ok(t)
}

/// The values of a finite f32 tensor (a NaN or infinity would poison training and every
/// pruning score, so it is refused here, with the tensor's name).
fn values(t: &TensorView, file: &str, name: &str) -> Result<Vec<f32>> {
    let values = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect::<Vec<_>>();
    if let Some(v) = values.iter().find(|v| !v.is_finite()) {
        return Err(Error::checkpoint(file, format!("{name} contains {v}")));
    }
    Ok(values)
}

/// A finite f32 tensor of any shape with `rank` dimensions.
pub(super) fn f32_tensor(
    st: &SafeTensors,
    file: &str,
    name: &str,
    rank: usize,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let t = f32_view(st, file, name)?;
    if t.shape().len() != rank {
        return Err(Error::checkpoint(
            file,
            format!(
                "{name} has shape {:?}; expected {rank} dimensions",
                t.shape()
            ),
        ));
    }
    Ok((t.shape().to_vec(), values(&t, file, name)?))
}

/// A finite f32 tensor that must have exactly `shape`.
pub(super) fn f32_exact(
    st: &SafeTensors,
    file: &str,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>> {
    let t = f32_view(st, file, name)?;
    if t.shape() != shape {
        return Err(Error::checkpoint(
            file,
            format!("{name} has shape {:?}; expected {shape:?}", t.shape()),
        ));
    }
    values(&t, file, name)
}

pub(super) fn matrix(st: &SafeTensors, file: &str, name: &str) -> Result<Array2<f32>> {
    let (shape, values) = f32_tensor(st, file, name, 2)?;
    Array2::from_shape_vec((shape[0], shape[1]), values)
        .map_err(|e| Error::checkpoint(file, format!("{name}: {e}")))
}

pub(super) fn vector(st: &SafeTensors, file: &str, name: &str) -> Result<Array1<f32>> {
    let (_, values) = f32_tensor(st, file, name, 1)?;
    Ok(Array1::from(values))
}
