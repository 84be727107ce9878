//! GELU in its exact form, `0.5·z·(1 + erf(z/√2)) = z·Φ(z)`, which is what timm's default
//! `nn.GELU` computes (Hendrycks & Gimpel 2016), not the tanh approximation.

use std::f32::consts::{FRAC_1_SQRT_2, PI};

use super::{buffers, parallel};

/// Applies GELU to `z`, returning (GELU(z), Φ(z)); Φ is kept for the backward pass so it need
/// not evaluate erf again.
pub fn forward(z: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let mut out = buffers::zeroed(z.len());
    let mut cdf = buffers::zeroed(z.len());
    let b = parallel::bounds(z.len());
    let parts: Vec<_> = b
        .windows(2)
        .map(|w| &z[w[0]..w[1]])
        .zip(parallel::split(&mut out, &b, 1))
        .zip(parallel::split(&mut cdf, &b, 1))
        .collect();
    parallel::run(parts, |((z, out), cdf)| {
        for ((o, c), &v) in out.iter_mut().zip(cdf.iter_mut()).zip(z) {
            let phi = 0.5 * (1.0 + libm::erff(v * FRAC_1_SQRT_2));
            *c = phi;
            *o = v * phi;
        }
    });
    (out, cdf)
}

/// In place: `dz = dg · GELU'(z)` with GELU'(z) = Φ(z) + z·φ(z), φ the standard normal density.
pub fn backward(dg: &mut [f32], z: &[f32], cdf: &[f32]) {
    let inv_sqrt_2pi = 1.0 / (2.0 * PI).sqrt();
    let b = parallel::bounds(z.len());
    let parts: Vec<_> = parallel::split(dg, &b, 1)
        .into_iter()
        .zip(b.windows(2))
        .collect();
    parallel::run(parts, |(dg, w)| {
        for ((g, &v), &c) in dg.iter_mut().zip(&z[w[0]..w[1]]).zip(&cdf[w[0]..w[1]]) {
            let pdf = (-0.5 * v * v).exp() * inv_sqrt_2pi;
            *g *= c + v * pdf;
        }
    });
}
