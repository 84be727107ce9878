//! The practice questions' card: scratch models the questions' demonstrations prune, fine-tune,
//! compact and time, apart from the walk-through so a "Run it" never disturbs what the visitor
//! is stepping through. LeNet's operations are in `scratch.rs`, the ViT's in `vit_practice.rs`,
//! and the forward-pass timing of the pruning variants in `costs.rs`; a question that runs a
//! lottery experiment uses a [`super::lottery::LotteryLab`] of its own.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::scratch::Scratch;
use super::store::{ModelStore, Shared};
use super::vit_practice::VitPractice;

/// The practice card's scratch models, over the page's store.
#[wasm_bindgen]
pub struct Practice {
    pub(super) store: Rc<RefCell<Shared>>,
    pub(super) scratch: Rc<RefCell<Scratch>>,
    pub(super) vit: Rc<RefCell<VitPractice>>,
}

#[wasm_bindgen]
impl Practice {
    #[wasm_bindgen(constructor)]
    pub fn new(store: &ModelStore) -> Practice {
        Practice {
            store: Rc::clone(&store.shared),
            scratch: Rc::default(),
            vit: Rc::default(),
        }
    }
}
