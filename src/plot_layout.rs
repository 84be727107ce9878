//! Layout choices for the page's charts that need no drawing crate, so that they build and are
//! tested natively; the web layer's charts (wasm only) call them.

/// A corner of a chart's plotting area, where a legend box can go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Corner {
    UpperLeft,
    UpperRight,
    LowerLeft,
    LowerRight,
}

impl Corner {
    /// In the order ties are broken: a falling-to-the-left curve (accuracy against weights left)
    /// leaves the lower right empty, so that comes first.
    pub(crate) const ALL: [Corner; 4] = [
        Corner::LowerRight,
        Corner::UpperRight,
        Corner::UpperLeft,
        Corner::LowerLeft,
    ];

    /// The box of `size` (width, height) in this corner, `inset` in from both edges, as
    /// `(x0, y0, x1, y1)`; all in plot fractions with y up.
    pub(crate) fn rect(self, (w, h): (f64, f64), (ix, iy): (f64, f64)) -> (f64, f64, f64, f64) {
        let (x0, x1) = match self {
            Corner::UpperLeft | Corner::LowerLeft => (ix, ix + w),
            Corner::UpperRight | Corner::LowerRight => (1.0 - ix - w, 1.0 - ix),
        };
        let (y0, y1) = match self {
            Corner::LowerLeft | Corner::LowerRight => (iy, iy + h),
            Corner::UpperLeft | Corner::UpperRight => (1.0 - iy - h, 1.0 - iy),
        };
        (x0, y0, x1, y1)
    }
}

/// Samples per segment between two markers when measuring how much of a line a box would hide.
const SAMPLES_PER_SEGMENT: usize = 16;

/// The corner where a legend box hides least of `lines`, each a series' points in order along x,
/// normalised to the plotting area (0..1 across, 0..1 up, i.e. after any log axis, so that they
/// are where they are drawn). `size` is the box's width and height and `inset` its distance from
/// the edges, in the same fractions.
///
/// The fewest markers (measurements) under the box win; among those, the fewest samples of the
/// lines drawn between them (straight on the plot, whatever the axis); then [`Corner::ALL`]'s
/// order.
pub(crate) fn legend_corner(
    lines: &[Vec<(f64, f64)>],
    size: (f64, f64),
    inset: (f64, f64),
) -> Corner {
    let under = |corner: Corner, points: &mut dyn Iterator<Item = (f64, f64)>| {
        let (x0, y0, x1, y1) = corner.rect(size, inset);
        points
            .filter(|&(x, y)| (x0..=x1).contains(&x) && (y0..=y1).contains(&y))
            .count()
    };
    let markers = || lines.iter().flatten().copied();
    let line_samples = || {
        lines.iter().flat_map(|line| {
            line.windows(2).flat_map(|pair| {
                let ((ax, ay), (bx, by)) = (pair[0], pair[1]);
                (1..SAMPLES_PER_SEGMENT).map(move |i| {
                    let t = i as f64 / SAMPLES_PER_SEGMENT as f64;
                    (ax + (bx - ax) * t, ay + (by - ay) * t)
                })
            })
        })
    };
    // `min_by_key` keeps the first of equal keys, so ties go by `Corner::ALL`.
    Corner::ALL
        .into_iter()
        .min_by_key(|&c| (under(c, &mut markers()), under(c, &mut line_samples())))
        .expect("four corners")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points of `lines` under `corner`'s box, counted independently of `legend_corner`.
    fn markers_under(corner: Corner, lines: &[Vec<(f64, f64)>], size: (f64, f64)) -> usize {
        let (x0, y0, x1, y1) = corner.rect(size, (0.01, 0.01));
        lines
            .iter()
            .flatten()
            .filter(|&&(x, y)| x >= x0 && x <= x1 && y >= y0 && y <= y1)
            .count()
    }

    /// Like the "Compare methods" chart at its default levels: weights left on a log axis from
    /// 5% to 100% (padded by 1.25 each way), accuracy falling toward the left, magnitude's lowest
    /// points (10% and 5% of the weights) in the lower left.
    fn compare_methods() -> Vec<Vec<(f64, f64)>> {
        let (lo, hi) = (5.0f64 / 1.25, 100.0f64 * 1.25);
        let x = |pct: f64| (pct.ln() - lo.ln()) / (hi.ln() - lo.ln());
        let y = |acc: f64| (acc - 5.0) / (100.0 - 5.0);
        let weights_left = [100.0, 50.0, 30.0, 20.0, 10.0, 5.0];
        let line = |accuracy: [f64; 6]| {
            let points = weights_left.iter().zip(accuracy);
            points.map(|(&p, a)| (x(p), y(a))).collect()
        };
        vec![
            line([98.0, 97.5, 95.0, 85.0, 25.0, 11.0]), // magnitude
            line([98.0, 97.8, 97.5, 97.0, 95.0, 90.0]),
            line([98.0, 97.9, 97.7, 97.3, 96.0, 93.0]),
        ]
    }

    #[test]
    fn the_legend_goes_where_no_point_is() {
        let lines = compare_methods();
        // A legend of a few methods' names.
        let size = (0.3, 0.35);
        let corner = legend_corner(&lines, size, (0.01, 0.01));
        assert_eq!(
            markers_under(corner, &lines, size),
            0,
            "{corner:?} covers points"
        );
        // The old fixed corner covers magnitude's points at 10% and 5%.
        assert_eq!(markers_under(Corner::LowerLeft, &lines, size), 2);
        assert_ne!(corner, Corner::LowerLeft);
    }

    #[test]
    fn with_every_corner_covered_the_fewest_points_win() {
        let size = (0.3, 0.3);
        let lines = vec![vec![
            (0.1, 0.1),
            (0.15, 0.15),
            (0.1, 0.9),
            (0.9, 0.1),
            (0.85, 0.15),
            (0.9, 0.9),
            (0.85, 0.85),
            (0.8, 0.8),
        ]];
        assert_eq!(legend_corner(&lines, size, (0.01, 0.01)), Corner::UpperLeft);
    }

    #[test]
    fn a_line_crossing_a_corner_between_markers_counts() {
        // Markers only at the ends, the line between them cuts through the lower right.
        let lines = vec![vec![(0.5, 0.0), (1.0, 0.5)]];
        let corner = legend_corner(&lines, (0.3, 0.3), (0.01, 0.01));
        assert_ne!(corner, Corner::LowerRight);
        assert_eq!(corner, Corner::UpperRight);
    }
}
