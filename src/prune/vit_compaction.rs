//! Compaction for the ViT: turning removed heads, blocks and MLP units into a smaller dense
//! model that computes what the masked one computes.
//!
//! - A masked head's q, k and v rows of `qkv` and its input columns of `proj` are deleted; `qkv`
//!   keeps timm's layout, the kept heads' q rows, then their k rows, then their v rows.
//! - A removed block is deleted (it was the identity) and the rest are renumbered.
//! - An MLP unit whose `fc1` row is entirely masked is deleted with its `fc2` column. Its
//!   output was the constant GELU(b_j) (0 when its bias was zeroed with it, as the structured
//!   methods do); that constant times the `fc2` column is folded into `fc2`'s bias first.
//!
//! The compacted model carries no head mask (every head it has is kept) and no mask entries for
//! what it deleted; unstructured masks on what remains are kept as they were.

use ndarray::{Array1, Axis};

use crate::error::Result;
use crate::model::vit::BlockShape;
use crate::model::{Layer, Vit};

/// What compaction did, in the original model's numbering.
#[derive(Debug, Clone)]
pub struct CompactedVit {
    pub model: Vit,
    /// The blocks kept.
    pub blocks: Vec<usize>,
    /// Per kept block, the heads kept.
    pub heads: Vec<Vec<usize>>,
    /// Per kept block, the MLP units kept.
    pub units: Vec<Vec<usize>>,
}

/// GELU, exactly as the forward pass computes it.
fn gelu(x: f32) -> f32 {
    x * (0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)))
}

fn select_layer(layer: &Layer, rows: Option<&[usize]>, cols: Option<&[usize]>) -> Layer {
    let mut out = layer.clone();
    if let Some(r) = rows {
        out.weight = out.weight.select(Axis(0), r);
        out.mask = out.mask.select(Axis(0), r);
        out.bias = out.bias.select(Axis(0), r);
    }
    if let Some(c) = cols {
        out.weight = out.weight.select(Axis(1), c);
        out.mask = out.mask.select(Axis(1), c);
    }
    out
}

pub fn compact(vit: &Vit) -> Result<CompactedVit> {
    let d = vit.head_dim();
    let mut linears = vec![vit.linears[Vit::PATCH_EMBED].clone()];
    let (mut norm1, mut norm2, mut shapes) = (Vec::new(), Vec::new(), Vec::new());
    let (mut kept_blocks, mut kept_heads, mut kept_units) = (Vec::new(), Vec::new(), Vec::new());
    for b in 0..vit.depth() {
        if vit.removed_blocks()[b] {
            continue;
        }
        let heads: Vec<usize> = (0..vit.heads_in(b))
            .filter(|&h| vit.head_mask(b)[h] != 0.0)
            .collect();
        let width = vit.heads_in(b) * d;
        let channels: Vec<usize> = heads.iter().flat_map(|&h| h * d..(h + 1) * d).collect();
        let qkv_rows: Vec<usize> = (0..3)
            .flat_map(|chunk| channels.iter().map(move |&c| chunk * width + c))
            .collect();
        let qkv = select_layer(&vit.linears[Vit::qkv(b)], Some(&qkv_rows), None);
        let proj = select_layer(&vit.linears[Vit::proj(b)], None, Some(&channels));

        let fc1 = &vit.linears[Vit::fc1(b)];
        let mut fc2 = vit.linears[Vit::fc2(b)].clone();
        let units: Vec<usize> = (0..fc1.outputs())
            .filter(|&j| fc1.mask.row(j).iter().any(|&m| m != 0.0))
            .collect();
        for j in (0..fc1.outputs()).filter(|j| !units.contains(j)) {
            let c = gelu(fc1.bias[j]);
            if c != 0.0 {
                let column = fc2.weight.column(j).to_owned();
                fc2.bias.scaled_add(c, &column);
            }
        }
        let fc1 = select_layer(fc1, Some(&units), None);
        let fc2 = select_layer(&fc2, None, Some(&units));

        shapes.push(BlockShape {
            heads: heads.len(),
            hidden: units.len(),
        });
        linears.extend([qkv, proj, fc1, fc2]);
        norm1.push(vit.norm1()[b].clone());
        norm2.push(vit.norm2()[b].clone());
        kept_blocks.push(b);
        kept_heads.push(heads);
        kept_units.push(units);
    }
    linears.push(vit.linears[vit.head()].clone());
    let mut config = *vit.config();
    config.depth = kept_blocks.len();
    let head_mask = shapes.iter().map(|s| Array1::ones(s.heads)).collect();
    let model = Vit::from_shaped_parts(
        config,
        &shapes,
        linears,
        vit.pos_embed().clone(),
        norm1,
        norm2,
        vit.fc_norm().clone(),
        head_mask,
    )?;
    Ok(CompactedVit {
        model,
        blocks: kept_blocks,
        heads: kept_heads,
        units: kept_units,
    })
}
