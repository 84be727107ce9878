//! Packed forms of a masked layer for sparse kernels, and their forward passes on the CPU.
//!
//! - [`Csr`]: compressed sparse rows, for any mask: per output row, the kept weights' values and
//!   input indices, and where each row starts.
//! - [`TwoFour`]: NVIDIA's 2:4 compressed format, for masks that keep at most 2 weights in every
//!   group of 4 consecutive inputs: half the values, plus 2 bits per stored value saying which
//!   of its group's 4 inputs it multiplies.
//!
//! Both pack by output row, as the weight is stored (`[out, in]`, PyTorch's layout). The mask
//! decides what is stored, not the value: a kept weight that happens to be 0 is stored, a pruned
//! one never is, so `nnz` is the number of weights the mask keeps.
//!
//! The forward passes take activations **feature-major**, `[features, batch]`, the layout the GPU
//! kernels use (see `csr_forward.wgsl`): each stored weight then scales one contiguous row of
//! samples, which vectorises, instead of gathering one float per sample.

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2, s};

use super::{Layer, Mlp};
use crate::error::{Error, Result};

/// A weight matrix `[rows, cols]` in compressed sparse rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    pub rows: usize,
    pub cols: usize,
    /// `rows + 1` offsets: row `r`'s entries are `row_ptr[r]..row_ptr[r + 1]`.
    pub row_ptr: Vec<u32>,
    /// The input (column) of each stored weight, ascending within a row.
    pub col_idx: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    /// The weights `mask` keeps (non-zero mask entries), row by row.
    pub fn from_masked(weight: ArrayView2<f32>, mask: ArrayView2<f32>) -> Result<Self> {
        check_same_shape("Csr::from_masked", weight, mask)?;
        let (rows, cols) = weight.dim();
        let mut row_ptr = Vec::with_capacity(rows + 1);
        let mut col_idx = Vec::new();
        let mut values = Vec::new();
        row_ptr.push(0);
        for (w, m) in weight.rows().into_iter().zip(mask.rows()) {
            for (c, (&w, &m)) in w.iter().zip(m).enumerate() {
                if m != 0.0 {
                    col_idx.push(c as u32);
                    values.push(w);
                }
            }
            row_ptr.push(col_idx.len() as u32);
        }
        Ok(Self {
            rows,
            cols,
            row_ptr,
            col_idx,
            values,
        })
    }

    pub fn from_layer(layer: &Layer) -> Result<Self> {
        Self::from_masked(layer.weight.view(), layer.mask.view())
    }

    /// Stored weights.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// The dense matrix, zeros where nothing is stored.
    pub fn to_dense(&self) -> Array2<f32> {
        let mut out = Array2::zeros((self.rows, self.cols));
        for r in 0..self.rows {
            for j in self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize {
                out[[r, self.col_idx[j] as usize]] = self.values[j];
            }
        }
        out
    }

    /// `z[r, :] += Σ_j values[j] · x[col_idx[j], :]` for rows `first..first + z.nrows()`.
    fn accumulate(&self, x: ArrayView2<f32>, mut z: ArrayViewMut2<f32>, first: usize) {
        let mut terms = Vec::new();
        for (i, zr) in z.rows_mut().into_iter().enumerate() {
            let r = first + i;
            let entries = self.row_ptr[r] as usize..self.row_ptr[r + 1] as usize;
            terms.clear();
            terms.extend(entries.map(|j| (self.values[j], self.col_idx[j] as usize)));
            add_scaled_rows(zr, x, &terms);
        }
    }
}

/// `z += Σ v · x[c, :]` over `terms` (v, c), four terms per pass over `z`, so that `z` is loaded
/// and stored a quarter as often as with one `scaled_add` per term.
fn add_scaled_rows(mut z: ArrayViewMut1<f32>, x: ArrayView2<f32>, terms: &[(f32, usize)]) {
    let n = z.len();
    let row = |c: usize| x.row(c).to_slice().filter(|r| r.len() == n);
    let Some(zs) = z.as_slice_mut() else {
        for &(v, c) in terms {
            z.scaled_add(v, &x.row(c));
        }
        return;
    };
    let mut quads = terms.chunks_exact(4);
    for t in &mut quads {
        if let (Some(a), Some(b), Some(c), Some(d)) =
            (row(t[0].1), row(t[1].1), row(t[2].1), row(t[3].1))
        {
            let (va, vb, vc, vd) = (t[0].0, t[1].0, t[2].0, t[3].0);
            for i in 0..n {
                zs[i] += va * a[i] + vb * b[i] + vc * c[i] + vd * d[i];
            }
        } else {
            for &(v, c) in t {
                scaled_add_slice(zs, v, x.row(c));
            }
        }
    }
    for &(v, c) in quads.remainder() {
        scaled_add_slice(zs, v, x.row(c));
    }
}

fn scaled_add_slice(z: &mut [f32], v: f32, x: ndarray::ArrayView1<f32>) {
    for (z, &x) in z.iter_mut().zip(x.iter()) {
        *z += v * x;
    }
}

/// Consecutive inputs per group, and weights kept per group, in the 2:4 pattern.
pub const GROUP: usize = 4;
pub const KEPT_PER_GROUP: usize = 2;
/// Groups whose metadata (4 bits each: two 2-bit positions) share one `u32`.
pub const GROUPS_PER_WORD: usize = 8;

/// Whether a mask fits the 2:4 pattern: its width is a multiple of 4 and no group of 4
/// consecutive inputs in a row keeps more than 2 weights (fewer is fine: the format then stores
/// explicit zeros).
pub fn is_two_four(mask: ArrayView2<f32>) -> bool {
    first_two_four_violation(mask).is_none()
}

/// The first (row, first input of the group, kept) that breaks 2:4; a width that is not a
/// multiple of 4 is reported as row 0 with kept = 0.
fn first_two_four_violation(mask: ArrayView2<f32>) -> Option<(usize, usize, usize)> {
    if !mask.ncols().is_multiple_of(GROUP) {
        return Some((0, mask.ncols(), 0));
    }
    for (r, row) in mask.rows().into_iter().enumerate() {
        for g in 0..mask.ncols() / GROUP {
            let kept = (0..GROUP).filter(|&i| row[g * GROUP + i] != 0.0).count();
            if kept > KEPT_PER_GROUP {
                return Some((r, g * GROUP, kept));
            }
        }
    }
    None
}

/// A weight matrix `[rows, cols]` in NVIDIA's 2:4 compressed format: for every group of 4
/// inputs, 2 values and their 2-bit positions within the group (ascending, distinct).
#[derive(Debug, Clone, PartialEq)]
pub struct TwoFour {
    pub rows: usize,
    pub cols: usize,
    /// `[rows, cols / 2]`: group g's two values at `2g` and `2g + 1`.
    pub values: Vec<f32>,
    /// `[rows, meta_stride()]`: group g of a row in word `g / 8`, bits `4 (g % 8)..`; the first
    /// value's position in the low 2 bits, the second's in the next 2.
    pub meta: Vec<u32>,
}

impl TwoFour {
    /// Packs the weights `mask` keeps; fails, naming the first offending group, when the mask is
    /// not 2:4. A group keeping fewer than 2 stores zeros at unused positions.
    pub fn from_masked(weight: ArrayView2<f32>, mask: ArrayView2<f32>) -> Result<Self> {
        check_same_shape("TwoFour::from_masked", weight, mask)?;
        if let Some((row, start, kept)) = first_two_four_violation(mask) {
            return Err(Error::Pattern(if kept == 0 {
                format!(
                    "2:4 needs a number of inputs divisible by 4; this layer has {start} inputs"
                )
            } else {
                format!(
                    "the mask is not 2:4: row {row}, inputs {start}..{} keep {kept} weights \
                     (at most 2 of every 4 consecutive inputs); prune with the 2:4 pattern \
                     (--n 2 --m 4)",
                    start + GROUP
                )
            }));
        }
        let (rows, cols) = weight.dim();
        let groups = cols / GROUP;
        let stride = groups.div_ceil(GROUPS_PER_WORD);
        let mut values = Vec::with_capacity(rows * groups * KEPT_PER_GROUP);
        let mut meta = vec![0u32; rows * stride];
        for (r, (w, m)) in weight.rows().into_iter().zip(mask.rows()).enumerate() {
            for g in 0..groups {
                let base = g * GROUP;
                let mut slots: Vec<usize> = (0..GROUP).filter(|&i| m[base + i] != 0.0).collect();
                // Pad with the lowest unused positions (their value is 0), then keep ascending
                // order, as NVIDIA's format requires.
                for i in 0..GROUP {
                    if slots.len() == KEPT_PER_GROUP {
                        break;
                    }
                    if !slots.contains(&i) {
                        slots.push(i);
                    }
                }
                slots.sort_unstable();
                let mut bits = 0u32;
                for (k, &i) in slots.iter().enumerate() {
                    values.push(if m[base + i] != 0.0 { w[base + i] } else { 0.0 });
                    bits |= (i as u32) << (2 * k);
                }
                meta[r * stride + g / GROUPS_PER_WORD] |= bits << (4 * (g % GROUPS_PER_WORD));
            }
        }
        Ok(Self {
            rows,
            cols,
            values,
            meta,
        })
    }

    pub fn from_layer(layer: &Layer) -> Result<Self> {
        Self::from_masked(layer.weight.view(), layer.mask.view())
    }

    /// Groups of 4 inputs per row.
    pub fn groups(&self) -> usize {
        self.cols / GROUP
    }

    /// `u32` metadata words per row.
    pub fn meta_stride(&self) -> usize {
        self.groups().div_ceil(GROUPS_PER_WORD)
    }

    /// The input positions (0..4) of group `g` of row `r`'s two stored values.
    pub fn positions(&self, r: usize, g: usize) -> [usize; 2] {
        let word = self.meta[r * self.meta_stride() + g / GROUPS_PER_WORD];
        let bits = word >> (4 * (g % GROUPS_PER_WORD));
        [(bits & 3) as usize, ((bits >> 2) & 3) as usize]
    }

    pub fn to_dense(&self) -> Array2<f32> {
        let mut out = Array2::zeros((self.rows, self.cols));
        for r in 0..self.rows {
            for g in 0..self.groups() {
                for (k, i) in self.positions(r, g).into_iter().enumerate() {
                    out[[r, g * GROUP + i]] = self.values[(r * self.groups() + g) * 2 + k];
                }
            }
        }
        out
    }

    fn accumulate(&self, x: ArrayView2<f32>, mut z: ArrayViewMut2<f32>, first: usize) {
        let groups = self.groups();
        let mut terms = Vec::with_capacity(groups * KEPT_PER_GROUP);
        for (i, zr) in z.rows_mut().into_iter().enumerate() {
            let r = first + i;
            terms.clear();
            for g in 0..groups {
                for (k, pos) in self.positions(r, g).into_iter().enumerate() {
                    terms.push((self.values[(r * groups + g) * 2 + k], g * GROUP + pos));
                }
            }
            add_scaled_rows(zr, x, &terms);
        }
    }
}

fn check_same_shape(
    op: &'static str,
    weight: ArrayView2<f32>,
    mask: ArrayView2<f32>,
) -> Result<()> {
    if weight.dim() == mask.dim() {
        Ok(())
    } else {
        Err(Error::Shape {
            op,
            detail: format!("weight {:?}, mask {:?}", weight.dim(), mask.dim()),
        })
    }
}

/// One layer's weights in a packed format.
#[derive(Debug, Clone, PartialEq)]
pub enum Packed {
    Csr(Csr),
    TwoFour(TwoFour),
}

impl Packed {
    pub fn rows(&self) -> usize {
        match self {
            Packed::Csr(m) => m.rows,
            Packed::TwoFour(m) => m.rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Packed::Csr(m) => m.cols,
            Packed::TwoFour(m) => m.cols,
        }
    }

    fn accumulate(&self, x: ArrayView2<f32>, z: ArrayViewMut2<f32>, first: usize) {
        match self {
            Packed::Csr(m) => m.accumulate(x, z, first),
            Packed::TwoFour(m) => m.accumulate(x, z, first),
        }
    }
}

/// A layer with packed weights.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedLayer {
    pub weights: Packed,
    pub bias: Array1<f32>,
}

/// An MLP whose every layer is packed (ReLU after all but the last), computing what the masked
/// [`Mlp`] computes.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseMlp {
    pub layers: Vec<PackedLayer>,
}

/// Samples processed together on the CPU: a block of every input row stays in cache while all
/// output rows use it (784 inputs × 128 samples × 4 bytes = 400 KB, within a core's L2 cache).
const CPU_SAMPLE_BLOCK: usize = 128;

impl SparseMlp {
    /// Every layer in CSR.
    pub fn csr(model: &Mlp) -> Result<Self> {
        let layers = model
            .layers()
            .iter()
            .map(|l| {
                Ok(PackedLayer {
                    weights: Packed::Csr(Csr::from_layer(l)?),
                    bias: l.bias.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// Every layer in 2:4 compressed form; fails (naming the layer) if a mask is not 2:4.
    pub fn two_four(model: &Mlp) -> Result<Self> {
        let layers = model
            .layers()
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let packed = TwoFour::from_layer(l).map_err(|e| match e {
                    Error::Pattern(m) => Error::Pattern(format!("layer {i}: {m}")),
                    other => other,
                })?;
                Ok(PackedLayer {
                    weights: Packed::TwoFour(packed),
                    bias: l.bias.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }

    /// Logits, feature-major: `x_t` is `[inputs, batch]`, the result `[classes, batch]`.
    pub fn logits_t(&self, x_t: ArrayView2<f32>) -> Array2<f32> {
        let last = self.layers.len() - 1;
        let mut a = layer_forward(&self.layers[0], x_t, last > 0);
        for (i, l) in self.layers.iter().enumerate().skip(1) {
            a = layer_forward(l, a.view(), i != last);
        }
        a
    }

    /// Logits for a batch `[batch, inputs]` (transposes in and out around [`Self::logits_t`]).
    pub fn logits(&self, x: ArrayView2<f32>) -> Array2<f32> {
        let x_t = x.t().as_standard_layout().into_owned();
        self.logits_t(x_t.view())
            .reversed_axes()
            .as_standard_layout()
            .into_owned()
    }
}

/// `relu?(W x_t + b)` for feature-major `x_t`: output rows split over the machine's cores
/// natively (wasm runs on one thread), each core going through the samples in cache-sized blocks.
fn layer_forward(layer: &PackedLayer, x_t: ArrayView2<f32>, relu: bool) -> Array2<f32> {
    let (rows, batch) = (layer.weights.rows(), x_t.ncols());
    let mut z = Array2::<f32>::zeros((rows, batch));
    for (r, mut zr) in z.rows_mut().into_iter().enumerate() {
        zr.fill(layer.bias[r]);
    }
    for_row_chunks(z.view_mut(), |first, mut chunk| {
        let mut start = 0;
        while start < batch {
            let end = (start + CPU_SAMPLE_BLOCK).min(batch);
            layer.weights.accumulate(
                x_t.slice(s![.., start..end]),
                chunk.slice_mut(s![.., start..end]),
                first,
            );
            start = end;
        }
        if relu {
            chunk.mapv_inplace(|v| v.max(0.0));
        }
    });
    z
}

/// Calls `f(first_row, rows)` on chunks of `z`'s rows, one chunk per core.
#[cfg(not(target_arch = "wasm32"))]
fn for_row_chunks(mut z: ArrayViewMut2<f32>, f: impl Fn(usize, ArrayViewMut2<f32>) + Sync) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || z.nrows() < 2 {
        return f(0, z);
    }
    let per = z.nrows().div_ceil(threads);
    std::thread::scope(|scope| {
        for (i, chunk) in z.axis_chunks_iter_mut(ndarray::Axis(0), per).enumerate() {
            let f = &f;
            scope.spawn(move || f(i * per, chunk));
        }
    });
}

/// wasm has no threads here: one chunk.
#[cfg(target_arch = "wasm32")]
fn for_row_chunks(z: ArrayViewMut2<f32>, f: impl Fn(usize, ArrayViewMut2<f32>) + Sync) {
    f(0, z);
}
