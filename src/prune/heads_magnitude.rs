//! Head importance by the size of its weights, as Torch-Pruning ranks a ViT's heads
//! (`GroupMagnitudeImportance(p=2)` with the head's channels grouped): each channel c of head h
//! has the sum of squares of its q, k and v rows of `qkv` and its input column of `proj`; the
//! head's score is the square root of their mean over the head's d channels, i.e. the ℓ2 norm of
//! everything the head owns divided by √d. Fang et al., "DepGraph: Towards Any Structural
//! Pruning", CVPR 2023.

use ndarray::Array1;

use crate::model::{Blocks, Network};

pub fn scores(model: &impl Network, blocks: &dyn Blocks) -> Vec<Array1<f32>> {
    let d = blocks.head_dim();
    let linears = model.linears();
    blocks
        .heads_per_block()
        .iter()
        .enumerate()
        .map(|(b, &heads)| {
            let (qkv, proj) = blocks.attention_layers(b);
            let (qkv, proj) = (&linears[qkv].weight, &linears[proj].weight);
            let width = heads * d;
            Array1::from_shape_fn(heads, |h| {
                let mut total = 0.0f32;
                for c in h * d..(h + 1) * d {
                    for chunk in 0..3 {
                        total += qkv
                            .row(chunk * width + c)
                            .iter()
                            .map(|w| w * w)
                            .sum::<f32>();
                    }
                    total += proj.column(c).iter().map(|w| w * w).sum::<f32>();
                }
                (total / d.max(1) as f32).sqrt()
            })
        })
        .collect()
}
