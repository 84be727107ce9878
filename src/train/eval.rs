//! Evaluation: loss, accuracy, confusion matrix and per-sample predictions.

use serde::Serialize;

use crate::data::{Dataset, Mnist};
use crate::model::{Network, softmax_cross_entropy};

/// Samples per forward pass during evaluation: big enough for an efficient GEMM, small enough to
/// keep the activations of LeNet-300-100 around 1.6 MB.
const EVAL_BATCH: usize = 1_000;

/// Which held-out split to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Validation,
    Test,
}

impl Split {
    /// This split of `data`.
    pub fn of(self, data: &Mnist) -> &Dataset {
        match self {
            Split::Validation => &data.validation,
            Split::Test => &data.test,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub loss: f32,
    pub accuracy: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u32>>,
    /// Predicted class of every sample, in data set order.
    #[serde(skip)]
    pub predictions: Vec<u8>,
}

pub fn evaluate(model: &impl Network, data: &Dataset) -> Evaluation {
    crate::parallel::in_pool(|| evaluate_here(model, data))
}

fn evaluate_here(model: &impl Network, data: &Dataset) -> Evaluation {
    let classes = data.classes();
    let mut confusion = vec![vec![0u32; classes]; classes];
    let mut predictions = Vec::with_capacity(data.len());
    let mut loss_sum = 0.0f64;
    for start in (0..data.len()).step_by(EVAL_BATCH) {
        let (x, labels) = data.batch(start, start + EVAL_BATCH);
        let logits = model.logits(x.view());
        let (loss, _) = softmax_cross_entropy(&logits, labels);
        loss_sum += f64::from(loss) * labels.len() as f64;
        let predicted = crate::model::argmax_rows(&logits);
        for (&y, &p) in labels.iter().zip(&predicted) {
            confusion[usize::from(y)][usize::from(p)] += 1;
        }
        predictions.extend(predicted);
    }
    let n = data.len().max(1) as f64;
    let correct: u32 = (0..classes).map(|c| confusion[c][c]).sum();
    Evaluation {
        loss: (loss_sum / n) as f32,
        accuracy: f64::from(correct) / n,
        confusion,
        predictions,
    }
}
