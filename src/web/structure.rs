//! The ViT's structure on the page: which heads and blocks the walk-through's model keeps, the
//! head and block scores of a head or layer method (for the head grid and the block bars), and
//! what each head looks at for one digit (`attention_received`), before and after pruning.
//!
//! JavaScript draws these; every number is computed here.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::walk_through::{Walk, WalkThrough, live, shown};
use super::{js_error, to_js};
use crate::data::Mnist;
use crate::model::{Model, Network, Vit};
use crate::prune::{Method, Scores};

/// Heads and blocks a ViT keeps: the numbers the stage text and the tests read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StructureCounts {
    heads_total: usize,
    heads_kept: usize,
    heads_removed: usize,
    /// `heads_removed / heads_total`: the compare card's x axis for head methods.
    heads_removed_fraction: f64,
    blocks: usize,
    blocks_kept: usize,
    /// Indices of the removed blocks.
    removed_blocks: Vec<usize>,
}

impl StructureCounts {
    /// The counts of a ViT; `None` for an MLP, which has no heads or blocks.
    pub(super) fn of(model: &Model) -> Option<Self> {
        model.as_vit().map(Self::of_vit)
    }

    pub(super) fn of_vit(vit: &Vit) -> Self {
        let total = vit.total_heads();
        let kept = vit.heads_kept();
        let removed: Vec<usize> = (0..vit.depth())
            .filter(|&b| vit.removed_blocks()[b])
            .collect();
        Self {
            heads_total: total,
            heads_kept: kept,
            heads_removed: total - kept,
            heads_removed_fraction: (total - kept) as f64 / total.max(1) as f64,
            blocks: vit.depth(),
            blocks_kept: vit.depth() - removed.len(),
            removed_blocks: removed,
        }
    }
}

/// What the head grid and the block bars draw.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StructureView {
    /// The method whose scores these are, once the walk has scored.
    method: Option<&'static str>,
    heads_per_block: Vec<usize>,
    /// Per block, per head: a head method's scores (higher is kept).
    head_scores: Option<Vec<Vec<f32>>>,
    /// A layer method's block scores (lower goes first); for `layers-angular` one distance per
    /// window start, see `window`.
    block_scores: Option<Vec<f32>>,
    /// `layers-angular`: the window length (blocks removed together); entry ℓ of
    /// `block_scores` is the distance across blocks ℓ…ℓ+window−1.
    window: Option<usize>,
    /// The model on show (the pruned one after the selection): its head masks and removed blocks.
    head_masks: Vec<Vec<f32>>,
    removed_blocks: Vec<bool>,
    /// Whether the walk has selected yet (the masks are the pruned model's).
    selected: bool,
    counts: StructureCounts,
}

/// Each head's attention for one digit, per block `[heads][16]` (the 4×4 patch grid,
/// row-major), as `Vit::attention_received` computes it.
type Attention = Vec<Vec<Vec<f32>>>;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DigitAttention {
    /// "test" or "calibration": where the digit comes from (an embed may load only the latter).
    source: &'static str,
    index: usize,
    /// How many digits there are to pick from.
    count: usize,
    label: u8,
    /// 28×28 bytes.
    pixels: Vec<u8>,
    /// The model pruning started from.
    before: Attention,
    /// The walk-through's pruned model, once it has one, with its masks.
    after: Option<Attention>,
    after_head_masks: Option<Vec<Vec<f32>>>,
    after_removed_blocks: Option<Vec<bool>>,
}

fn attention_of(vit: &Vit, x: ndarray::ArrayView2<f32>) -> Attention {
    vit.attention_received(x)
        .into_iter()
        .map(|a| a.outer_iter().map(|row| row.to_vec()).collect())
        .collect()
}

fn masks_of(vit: &Vit) -> Vec<Vec<f32>> {
    vit.head_masks().iter().map(|m| m.to_vec()).collect()
}

/// The base model as a ViT, or an error naming `what` needs one.
fn vit_of<'a>(model: Option<&'a Model>, what: &str) -> Result<&'a Vit, JsValue> {
    let model = model.ok_or_else(|| js_error("there is no model to prune yet"))?;
    model.as_vit().ok_or_else(|| {
        js_error(format!(
            "{what} needs the tiny ViT (pick it as the model to prune); {} has no attention heads",
            model.spec()
        ))
    })
}

/// Where digits come from: the test set, else the calibration images (an embed without tests).
fn digits(data: &Mnist) -> (&'static str, &crate::data::Dataset) {
    if data.test.is_empty() {
        ("calibration", &data.train)
    } else {
        ("test", &data.test)
    }
}

impl StructureView {
    fn of(base: &Vit, shown: &Vit, walk: Option<&Walk>) -> Self {
        let scores = walk.and_then(|w| w.scores.as_ref());
        let method = walk.map(|w| w.method);
        let (head_scores, block_scores) = match scores {
            Some(Scores::Heads(h)) => (Some(h.iter().map(|a| a.to_vec()).collect()), None),
            Some(Scores::Blocks(b)) => (None, Some(b.to_vec())),
            _ => (None, None),
        };
        let window = match (method, &block_scores) {
            (Some(Method::LayersAngular), Some(s)) => Some(base.depth() + 1 - s.len().max(1)),
            _ => None,
        };
        let selected = walk.is_some_and(|w| w.pruned.is_some());
        Self {
            method: method.map(Method::name),
            heads_per_block: (0..base.depth()).map(|b| base.heads_in(b)).collect(),
            head_scores,
            block_scores,
            window,
            head_masks: masks_of(shown),
            removed_blocks: shown.removed_blocks().to_vec(),
            selected,
            counts: StructureCounts::of_vit(shown),
        }
    }
}

#[wasm_bindgen]
impl WalkThrough {
    /// The ViT's heads and blocks as the walk-through stands: the head or block scores of its
    /// method (after the scores stage) and the masks of the model on show. An error for an MLP.
    pub fn structure(&self) -> Result<JsValue, JsValue> {
        let store = self.store.borrow();
        let slot = self.walk.borrow();
        let walk = live(&slot, &store);
        let base = vit_of(store.base().ok(), "the head grid")?;
        let shown = shown(&store, walk).and_then(Model::as_vit).unwrap_or(base);
        to_js(&StructureView::of(base, shown, walk))
    }

    /// What each head looks at for digit `index` (of the test set, or of the calibration images
    /// where no test images are loaded): before pruning, and after it once the walk has pruned.
    pub fn attention(&self, index: usize) -> Result<JsValue, JsValue> {
        let store = self.store.borrow();
        let slot = self.walk.borrow();
        let data = store.data()?;
        let base = vit_of(store.base().ok(), "the attention picture")?;
        let (source, set) = digits(&data);
        if index >= set.len() {
            return Err(js_error(format!(
                "digit {index} is outside 0…{} of the {source} images",
                set.len().saturating_sub(1)
            )));
        }
        let (x, labels) = set.batch(index, index + 1);
        let pruned = live(&slot, &store)
            .and_then(|w| w.pruned.as_ref())
            .and_then(Model::as_vit);
        to_js(&DigitAttention {
            source,
            index,
            count: set.len(),
            label: labels.first().copied().unwrap_or(0),
            pixels: set.image(index).to_vec(),
            before: attention_of(base, x.view()),
            after: pruned.map(|p| attention_of(p, x.view())),
            after_head_masks: pruned.map(masks_of),
            after_removed_blocks: pruned.map(|p| p.removed_blocks().to_vec()),
        })
    }
}
