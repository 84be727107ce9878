//! Where in the 28×28 image a pruned first layer lost its weights, and how an N:M pattern falls
//! on one of its rows: the numbers the practice questions about Wanda and N:M quote.
//!
//! The regions follow how MNIST was made: each digit was scaled into a 20×20 box and centred by
//! its centre of mass in the 28×28 frame (LeCun et al.), so the outer 4-pixel ring is where ink is
//! rarest and the central 12×12 where it is commonest.

use ndarray::ArrayView1;

use crate::model::Network;

/// A part of the 28×28 input image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// The outer ring, 4 pixels wide.
    Frame,
    /// The central 12×12 square.
    Centre,
}

/// Side of the MNIST image.
const SIDE: usize = 28;

impl Region {
    /// Whether pixel (`row`, `col`) of the 28×28 image lies in the region.
    pub fn contains(self, row: usize, col: usize) -> bool {
        match self {
            Region::Frame => !((4..SIDE - 4).contains(&row) && (4..SIDE - 4).contains(&col)),
            Region::Centre => (8..SIDE - 8).contains(&row) && (8..SIDE - 8).contains(&col),
        }
    }
}

/// The share of the first layer's weights from pixels in `region` that are pruned (mask 0), or
/// `None` when the first layer does not read the 784 pixels (the ViT reads patches).
pub fn pruned_share(model: &impl Network, region: Region) -> Option<f64> {
    let mask = &model.linears().first()?.mask;
    if mask.ncols() != SIDE * SIDE {
        return None;
    }
    let (mut pruned, mut total) = (0usize, 0usize);
    for (pixel, column) in mask.columns().into_iter().enumerate() {
        if region.contains(pixel / SIDE, pixel % SIDE) {
            pruned += column.iter().filter(|&&m| m == 0.0).count();
            total += column.len();
        }
    }
    Some(pruned as f64 / total.max(1) as f64)
}

/// Weights kept (mask nonzero) in each consecutive group of `m` of `mask_row`: an N:M pattern
/// keeps exactly N in every group. A trailing partial group is counted as it is.
pub fn kept_per_group(mask_row: ArrayView1<f32>, m: usize) -> Vec<usize> {
    mask_row
        .to_vec()
        .chunks(m.max(1))
        .map(|group| group.iter().filter(|&&k| k != 0.0).count())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Architecture, Init, Mlp};
    use ndarray::array;

    #[test]
    fn regions_have_their_sizes() {
        let count = |r: Region| {
            (0..SIDE)
                .flat_map(|row| (0..SIDE).map(move |col| (row, col)))
                .filter(|&(row, col)| r.contains(row, col))
                .count()
        };
        assert_eq!(count(Region::Frame), 784 - 20 * 20);
        assert_eq!(count(Region::Centre), 12 * 12);
    }

    #[test]
    fn pruned_share_counts_only_the_region() {
        let arch: Architecture = "784-4-10".parse().unwrap();
        let mut mlp = Mlp::seeded(&arch, Init::default(), 0);
        // Prune every frame weight of the first layer, and one centre column (pixel 14·28+14).
        for (pixel, mut column) in mlp.layers_mut()[0]
            .mask
            .columns_mut()
            .into_iter()
            .enumerate()
        {
            if Region::Frame.contains(pixel / SIDE, pixel % SIDE) || pixel == 14 * SIDE + 14 {
                column.fill(0.0);
            }
        }
        assert_eq!(pruned_share(&mlp, Region::Frame), Some(1.0));
        assert_eq!(pruned_share(&mlp, Region::Centre), Some(1.0 / 144.0));
    }

    #[test]
    fn kept_per_group_counts_nonzeros() {
        let row = array![1.0f32, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        assert_eq!(kept_per_group(row.view(), 4), vec![2, 2, 1]);
    }
}
