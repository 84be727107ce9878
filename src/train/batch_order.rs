//! The order in which training samples are visited: a seeded shuffle per epoch, consumed a batch at
//! a time, the incomplete last batch dropped. Shared by the CPU and GPU engines so that, from the
//! same seed, both see exactly the same batches.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// ChaCha stream for data order; stream 0 of the same seed initialises the weights, so changing
/// the data order (as instability experiments do) never changes the initial weights.
const SHUFFLE_STREAM: u64 = 1;

#[derive(Debug, Clone)]
pub struct BatchOrder {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    cursor: usize,
    epoch: u64,
}

impl BatchOrder {
    pub fn new(len: usize, seed: u64) -> Self {
        Self::with_stream(len, seed, SHUFFLE_STREAM)
    }

    /// An order drawn from another ChaCha stream of `seed`: a second, independent data order for
    /// the same seed (the instability experiment trains two copies on two orders). Streams 0 and
    /// 1 are the seed's initial weights and its usual order.
    pub fn with_stream(len: usize, seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        // Start "at the end" so the first batch shuffles.
        Self {
            rng,
            order: (0..len).collect(),
            cursor: len,
            epoch: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Starts a new epoch (a fresh shuffle) when fewer than `batch` samples are left in this one.
    /// Returns whether it did.
    pub fn prepare(&mut self, batch: usize) -> bool {
        if self.cursor + batch <= self.order.len() {
            return false;
        }
        self.order.shuffle(&mut self.rng);
        self.cursor = 0;
        self.epoch += 1;
        true
    }

    /// Whole batches left in the current epoch.
    pub fn batches_left(&self, batch: usize) -> usize {
        (self.order.len() - self.cursor.min(self.order.len())) / batch.max(1)
    }

    /// The next batch's sample indices; call [`BatchOrder::prepare`] first.
    pub fn take(&mut self, batch: usize) -> &[usize] {
        let start = self.cursor;
        self.cursor += batch;
        &self.order[start..self.cursor]
    }

    /// Moves on `batches` batches exactly as that many training steps would (shuffling at each
    /// new epoch), without looking at the data: the order a run rewound to step k continues with.
    pub fn skip_batches(&mut self, batches: u64, batch: usize) {
        for _ in 0..batches {
            self.prepare(batch);
            self.cursor += batch;
        }
    }

    /// Skips `batches` batches that another engine consumed (the GPU reads `order` itself).
    pub fn advance(&mut self, batches: usize, batch: usize) {
        self.cursor += batches * batch;
    }

    /// Position of the next batch in [`BatchOrder::order`].
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// The current epoch's permutation.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Epochs begun so far.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}
