//! GPU buffers: the padded layout the kernels use, creation, upload and read-back.
//!
//! Every matrix is stored row-major with rows padded to a multiple of 4 floats, so kernels can
//! load `vec4`s along rows; the padding is zero and stays zero (its mask entries are 0).

use ndarray::{Array1, Array2, ArrayView2};
use wgpu::util::DeviceExt;

use super::GpuContext;
use crate::error::{Error, Result};

/// Rounds a width up to whole `vec4`s.
pub fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// Copies a matrix into the padded row layout.
pub fn padded_rows(m: ArrayView2<f32>) -> Vec<f32> {
    let stride = pad4(m.ncols());
    let mut out = vec![0.0; m.nrows() * stride];
    for (r, row) in m.rows().into_iter().enumerate() {
        for (dst, &src) in out[r * stride..].iter_mut().zip(row) {
            *dst = src;
        }
    }
    out
}

/// The inverse of [`padded_rows`].
pub fn unpadded_rows(data: &[f32], rows: usize, cols: usize) -> Array2<f32> {
    let stride = pad4(cols);
    Array2::from_shape_fn((rows, cols), |(r, c)| data[r * stride + c])
}

/// A vector padded with zeros to whole `vec4`s.
pub fn padded_vec(v: &Array1<f32>) -> Vec<f32> {
    let mut out = v.to_vec();
    out.resize(pad4(v.len()), 0.0);
    out
}

/// What storage buffers allow: read and write by kernels, copies in and out.
const STORAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A zero-filled storage buffer of `bytes` bytes (at least 16, since empty bindings are invalid).
pub fn zeroed(ctx: &GpuContext, label: &str, bytes: usize) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16) as u64,
        usage: STORAGE,
        mapped_at_creation: false,
    })
}

/// A storage buffer holding `contents` (padded to at least 16 bytes).
pub fn with_contents<T: bytemuck::Pod>(
    ctx: &GpuContext,
    label: &str,
    contents: &[T],
) -> wgpu::Buffer {
    let mut bytes = bytemuck::cast_slice::<T, u8>(contents).to_vec();
    bytes.resize(bytes.len().max(16), 0);
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &bytes,
            usage: STORAGE,
        })
}

/// A uniform buffer of kernel parameters.
pub fn uniform<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, params: &T) -> wgpu::Buffer {
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: bytemuck::bytes_of(params),
            usage: wgpu::BufferUsages::UNIFORM,
        })
}

/// Reads several buffers (or their first `bytes`) back in one submission and one mapping.
///
/// Awaiting the mapping is the only way to wait for the GPU in a browser; natively the device is
/// polled until the mapping is done, which is where native code blocks.
pub async fn read_back(ctx: &GpuContext, parts: &[(&wgpu::Buffer, u64)]) -> Result<Vec<Vec<u8>>> {
    let total: u64 = parts.iter().map(|(_, n)| n.next_multiple_of(4)).sum();
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("read-back staging"),
        size: total.max(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    let mut offset = 0;
    for (buffer, bytes) in parts {
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, offset, *bytes);
        offset += bytes.next_multiple_of(4);
    }
    ctx.queue.submit([encoder.finish()]);
    map(ctx, &staging).await?;
    let mapped = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| Error::Gpu(format!("reading results back: {e}")))?;
    let mut out = Vec::with_capacity(parts.len());
    let mut offset = 0usize;
    for (_, bytes) in parts {
        out.push(mapped[offset..offset + *bytes as usize].to_vec());
        offset += bytes.next_multiple_of(4) as usize;
    }
    drop(mapped);
    staging.unmap();
    ctx.check()?;
    Ok(out)
}

async fn map(ctx: &GpuContext, staging: &wgpu::Buffer) -> Result<()> {
    let (tx, rx) = futures_channel::oneshot::channel();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |result| {
            // The receiver only goes away if the caller was dropped; nothing to report then.
            let _ = tx.send(result);
        });
    #[cfg(not(target_arch = "wasm32"))]
    ctx.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            ctx.check()?;
            Err(Error::Gpu(format!(
                "mapping results for reading failed: {e}"
            )))
        }
        Err(_) => {
            ctx.check()?;
            Err(Error::Gpu("the GPU dropped a read-back request".into()))
        }
    }
}

/// Reinterprets read-back bytes.
pub fn floats(bytes: &[u8]) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(bytes)
}

pub fn words(bytes: &[u8]) -> Vec<u32> {
    bytemuck::pod_collect_to_vec(bytes)
}
