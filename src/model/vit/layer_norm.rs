//! LayerNorm over the last axis, as `torch.nn.LayerNorm(D, eps=1e-6)` in timm's ViT: biased
//! variance, ε inside the square root, an elementwise affine (Ba et al. 2016, "Layer
//! Normalization").

use ndarray::{Array1, Array2};

use super::{LN_EPS, LayerNorm, buffers, parallel};

/// What the backward pass needs from one LayerNorm: the normalised rows x̂ = (x − μ)/σ and
/// 1/σ per row.
#[derive(Debug, Clone)]
pub struct LnCache {
    pub xhat: Array2<f32>,
    pub rstd: Vec<f32>,
}

/// `y = x̂ ⊙ weight + bias` for each row of `x`; returns y and the cache.
pub fn forward(x: &Array2<f32>, ln: &LayerNorm) -> (Array2<f32>, LnCache) {
    let (rows, dim) = x.dim();
    let x = x.as_standard_layout();
    let xs = x
        .as_slice()
        .unwrap_or_else(|| unreachable!("standard layout"));
    let (w, b) = (ln.weight.as_slice().unwrap(), ln.bias.as_slice().unwrap());
    let mut xhat = buffers::zeroed(rows * dim);
    let mut y = buffers::zeroed(rows * dim);
    let mut rstd = buffers::zeroed(rows);
    let bounds = parallel::bounds(rows);
    let parts: Vec<_> = bounds
        .windows(2)
        .map(|r| &xs[r[0] * dim..r[1] * dim])
        .zip(parallel::split(&mut xhat, &bounds, dim))
        .zip(parallel::split(&mut y, &bounds, dim))
        .zip(parallel::split(&mut rstd, &bounds, 1))
        .collect();
    let inv_d = 1.0 / dim as f32;
    parallel::run(parts, |(((xs, xhat), y), rstd)| {
        for (((xr, hr), yr), s) in xs
            .chunks_exact(dim)
            .zip(xhat.chunks_exact_mut(dim))
            .zip(y.chunks_exact_mut(dim))
            .zip(rstd.iter_mut())
        {
            let mean = xr.iter().sum::<f32>() * inv_d;
            let var = xr.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() * inv_d;
            *s = 1.0 / (var + LN_EPS).sqrt();
            for ((h, o), ((&v, &wi), &bi)) in hr
                .iter_mut()
                .zip(yr.iter_mut())
                .zip(xr.iter().zip(w).zip(b))
            {
                *h = (v - mean) * *s;
                *o = *h * wi + bi;
            }
        }
    });
    let shape = (rows, dim);
    (
        Array2::from_shape_vec(shape, y).unwrap_or_else(|_| unreachable!()),
        LnCache {
            xhat: Array2::from_shape_vec(shape, xhat).unwrap_or_else(|_| unreachable!()),
            rstd,
        },
    )
}

/// Backward through one LayerNorm: accumulates the input gradient into `dx` (the residual stream
/// already holds the other path's gradient) and returns (∂weight, ∂bias).
///
/// With g = dy ⊙ weight: dx = (1/σ)·(g − mean(g) − x̂·mean(g ⊙ x̂)).
pub fn backward(
    dy: &Array2<f32>,
    cache: &LnCache,
    ln: &LayerNorm,
    dx: &mut Array2<f32>,
) -> (Array1<f32>, Array1<f32>) {
    let (rows, dim) = dy.dim();
    let w = ln.weight.as_slice().unwrap();
    let dy = dy.as_standard_layout();
    let dys = dy.as_slice().unwrap();
    let xh = cache.xhat.as_slice().unwrap();
    let dxs = dx
        .as_slice_mut()
        .expect("the residual gradient is contiguous");
    let bounds = parallel::bounds(rows);
    let parts: Vec<_> = parallel::split(dxs, &bounds, dim)
        .into_iter()
        .zip(bounds.windows(2))
        .collect();
    let inv_d = 1.0 / dim as f32;
    let sums = parallel::run(parts, |(dxs, r)| {
        let mut dw = vec![0.0f32; dim];
        let mut db = vec![0.0f32; dim];
        let mut g = vec![0.0f32; dim];
        let (lo, hi) = (r[0], r[1]);
        for (((dyr, xr), dxr), &s) in dys[lo * dim..hi * dim]
            .chunks_exact(dim)
            .zip(xh[lo * dim..hi * dim].chunks_exact(dim))
            .zip(dxs.chunks_exact_mut(dim))
            .zip(&cache.rstd[lo..hi])
        {
            let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
            for j in 0..dim {
                dw[j] += dyr[j] * xr[j];
                db[j] += dyr[j];
                g[j] = dyr[j] * w[j];
                sum_g += g[j];
                sum_gx += g[j] * xr[j];
            }
            let (mg, mgx) = (sum_g * inv_d, sum_gx * inv_d);
            for j in 0..dim {
                dxr[j] += s * (g[j] - mg - xr[j] * mgx);
            }
        }
        (dw, db)
    });
    let mut dw = Array1::zeros(dim);
    let mut db = Array1::zeros(dim);
    for (pw, pb) in sums {
        dw += &Array1::from(pw);
        db += &Array1::from(pb);
    }
    (dw, db)
}
