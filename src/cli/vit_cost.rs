//! `pruneplay cost` on a ViT checkpoint: the dense model and the masked one (magnitude at
//! `--sparsity`), their parameters, nonzero weights, FLOPs and bytes, and the forward pass timed
//! on the CPU. The sparse kernels (CSR, 2:4), compaction and the GPU's timed forward passes
//! (`gpu::forward_timing`) are written for MLPs; the GPU engine trains the ViT but times no ViT
//! forward pass here.

use serde::Serialize;

use super::report::Reporter;
use pruneplay::data::Mnist;
use pruneplay::model::{Model, Network};
use pruneplay::prune::{self, Method, PruneOptions};

#[derive(Serialize)]
struct Variant {
    event: &'static str,
    name: &'static str,
    parameters: usize,
    nonzero_weights: usize,
    /// 2·m·n·k per matrix product of one image's forward pass, attention's included.
    dense_flops: u64,
    /// The same with each linear layer's products counted only for its nonzero weights.
    sparse_flops: u64,
    bytes_dense: usize,
    cpu_ms: f64,
}

/// Nonzero-weight FLOPs per image: each linear layer's kept weights times its rows per image.
fn sparse_flops(model: &Model) -> u64 {
    let linear: u64 = model
        .linears()
        .iter()
        .enumerate()
        .map(|(i, l)| (2 * l.kept() * model.rows_per_sample(i)) as u64)
        .sum();
    linear + model.attention_flops()
}

pub fn run(
    model: &Model,
    data: &Mnist,
    sparsity: f64,
    batch: usize,
    reps: usize,
    warmup: usize,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut masked = model.clone();
    let options = PruneOptions {
        sparsity,
        ..PruneOptions::default()
    };
    prune::prune(Method::Magnitude, &mut masked, None, &options)?;
    let test = data.test.slice(0, batch);
    let (x, _) = test.batch(0, test.len());
    let reporter = Reporter::new(json, 2, "timing");
    let mut rows = Vec::new();
    for (name, m) in [("dense", model), ("masked", &masked)] {
        let row = Variant {
            event: "variant",
            name,
            parameters: m.param_count(),
            nonzero_weights: m.linears().iter().map(|l| l.kept()).sum(),
            dense_flops: m.forward_flops(),
            sparse_flops: sparse_flops(m),
            bytes_dense: 4 * m.param_count(),
            cpu_ms: super::prune::forward_ms(m, x.view(), warmup, reps),
        };
        reporter.progress(rows.len() as u64 + 1, &row, || {
            format!("{name}: {:.1} ms", row.cpu_ms)
        });
        rows.push(row);
    }
    #[derive(Serialize)]
    struct Summary<'a> {
        event: &'static str,
        model: &'static str,
        arch: String,
        sparsity: f64,
        batch: usize,
        variants: &'a [Variant],
        note: &'static str,
    }
    let summary = Summary {
        event: "summary",
        model: "vit",
        arch: model.spec(),
        sparsity,
        batch,
        variants: &rows,
        note: "the ViT is timed on the CPU, dense and masked; CSR, 2:4 and compaction are MLP-only",
    };
    reporter.summary(&summary, || {
        let mut text = format!("{} on {batch} test images (CPU):", summary.arch);
        for r in &rows {
            text.push_str(&format!(
                "\n  {:<7} {:>7} parameters, {:>7} nonzero weights, {:>9} FLOPs/image dense, {:>9} sparse, {:>8} bytes, {:.1} ms",
                r.name, r.parameters, r.nonzero_weights, r.dense_flops, r.sparse_flops, r.bytes_dense, r.cpu_ms
            ));
        }
        text.push_str(&format!("\n{}", summary.note));
        text
    });
    Ok(())
}
