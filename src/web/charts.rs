//! Line charts drawn into a `<canvas>` with plotters' canvas backend.

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters_canvas::CanvasBackend;
use wasm_bindgen::prelude::*;
use web_sys::HtmlCanvasElement;

/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. The sky blue
/// replaces the darker blue on dark backgrounds, where that one is hard to see.
const BLUE: RGBColor = RGBColor(0, 114, 178);
const SKY_BLUE: RGBColor = RGBColor(86, 180, 233);
const ORANGE: RGBColor = RGBColor(230, 159, 0);

/// Draws up to two curves over the same x values: `first` (e.g. training) in blue and `second`
/// (e.g. validation) in orange. `y_range` fixes the axis (e.g. accuracy 0..1); empty means fit to
/// the data, and also moves the legend to the lower right, out of the way of rising curves such as
/// accuracy. `dark` picks light text on a dark background.
#[wasm_bindgen(js_name = drawCurves)]
#[allow(clippy::too_many_arguments)]
pub fn draw_curves(
    canvas: HtmlCanvasElement,
    x_label: &str,
    y_label: &str,
    x: &[f64],
    first: &[f64],
    first_name: &str,
    second: &[f64],
    second_name: &str,
    y_range: &[f64],
    dark: bool,
) -> Result<(), JsError> {
    // Roughly one x label per 90 pixels, so narrow (phone) charts do not run them together.
    let x_labels = (canvas.width() / 90).clamp(3, 10) as usize;
    let (root, Theme { bg, fg, grid, blue }) = themed_root(canvas, dark)?;

    // Before any data, a 0..100 axis rather than 0..1 labelled "0 0 0 1 1 1".
    let x_max = x
        .iter()
        .copied()
        .fold(if x.is_empty() { 100.0 } else { 1.0 }, f64::max);
    let legend_position = if y_range.len() == 2 {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    };
    let (y_min, y_max) = match y_range {
        [lo, hi] if lo < hi => (*lo, *hi),
        _ => {
            let all = first
                .iter()
                .chain(second)
                .copied()
                .filter(|v| v.is_finite());
            let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if lo.is_finite() && hi > lo {
                (0.0f64.min(lo), hi * 1.05)
            } else {
                (0.0, 1.0)
            }
        }
    };
    let text = ("sans-serif", 13).into_font().color(&fg);
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(js_error)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .x_labels(x_labels)
        .y_labels(6)
        .y_desc(y_label)
        .label_style(text.clone())
        .axis_style(fg)
        .light_line_style(bg)
        .bold_line_style(grid)
        .draw()
        .map_err(js_error)?;
    for (values, name, colour) in [(first, first_name, blue), (second, second_name, ORANGE)] {
        if values.is_empty() {
            continue;
        }
        let points = x.iter().copied().zip(values.iter().copied());
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(js_error)?
            .label(name)
            .legend(move |(lx, ly)| {
                PathElement::new([(lx, ly), (lx + 18, ly)], colour.stroke_width(2))
            });
    }
    if first.is_empty() && second.is_empty() {
        root.present().map_err(js_error)?;
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(legend_position)
        .label_font(text)
        .background_style(bg.mix(0.85))
        .border_style(grid)
        .draw()
        .map_err(js_error)?;
    root.present().map_err(js_error)?;
    Ok(())
}

/// Colours of a chart in the page's light or dark theme.
struct Theme {
    bg: RGBColor,
    fg: RGBColor,
    grid: RGBColor,
    blue: RGBColor,
}

/// The canvas as a plotters drawing area, filled with the theme's background.
fn themed_root(
    canvas: HtmlCanvasElement,
    dark: bool,
) -> Result<(DrawingArea<CanvasBackend, plotters::coord::Shift>, Theme), JsError> {
    let backend = CanvasBackend::with_canvas_object(canvas)
        .ok_or_else(|| JsError::new("the chart canvas has no 2D context"))?;
    let root = backend.into_drawing_area();
    let theme = if dark {
        Theme {
            bg: RGBColor(24, 26, 31),
            fg: RGBColor(220, 220, 220),
            grid: RGBColor(60, 63, 70),
            blue: SKY_BLUE,
        }
    } else {
        Theme {
            bg: WHITE,
            fg: RGBColor(40, 40, 40),
            grid: RGBColor(225, 225, 225),
            blue: BLUE,
        }
    };
    root.fill(&theme.bg).map_err(js_error)?;
    Ok((root, theme))
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&format!("chart: {e}"))
}

/// A histogram (bar counts over equal bins from `lo` to `hi`), with a vertical line at
/// `threshold` when it is finite: what the pruning stage "select" cuts at.
#[wasm_bindgen(js_name = drawHistogram)]
pub fn draw_histogram(
    canvas: HtmlCanvasElement,
    x_label: &str,
    counts: &[f64],
    lo: f64,
    hi: f64,
    threshold: f64,
    dark: bool,
) -> Result<(), JsError> {
    let (root, Theme { bg, fg, grid, blue }) = themed_root(canvas, dark)?;
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let top = counts.iter().copied().fold(1.0, f64::max) * 1.05;
    let text = ("sans-serif", 13).into_font().color(&fg);
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(lo..hi, 0.0..top)
        .map_err(js_error)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("count")
        .x_labels(6)
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .label_style(text)
        .axis_style(fg)
        .light_line_style(bg)
        .bold_line_style(grid)
        .draw()
        .map_err(js_error)?;
    let width = (hi - lo) / counts.len().max(1) as f64;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width, c)], blue.filled())
        }))
        .map_err(js_error)?;
    if threshold.is_finite() {
        chart
            .draw_series(LineSeries::new(
                [(threshold, 0.0), (threshold, top)],
                ORANGE.stroke_width(2),
            ))
            .map_err(js_error)?;
    }
    root.present().map_err(js_error)?;
    Ok(())
}

/// The rest of the Okabe–Ito palette, for charts with one series per method or arm; the first
/// series takes the theme's blue.
const PALETTE: [RGBColor; 6] = [
    ORANGE,
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
];

/// Series `i`'s colour: the theme's blue, the palette, the other blue (the theme's is taken),
/// then the text colour, so that every method of a sweep (up to 9) gets its own.
fn series_colour(theme: &Theme, i: usize) -> RGBColor {
    let other_blue = if theme.blue == BLUE { SKY_BLUE } else { BLUE };
    match i {
        0 => theme.blue,
        1..=4 => PALETTE[i - 1],
        5 => other_blue,
        6 | 7 => PALETTE[i - 2],
        _ => theme.fg,
    }
}

/// One named line of points, as the page sends it.
#[derive(serde::Deserialize)]
struct Series {
    name: String,
    x: Vec<f64>,
    y: Vec<f64>,
    /// The palette entry, when two lines share one (a method's one-shot and healed curves);
    /// else the series' place in the list.
    #[serde(default)]
    colour: Option<usize>,
    /// Drawn dashed: the second line of a pair, e.g. the healed curve.
    #[serde(default)]
    dashed: bool,
}

/// Lines with point markers, one per series (`[{name, x, y, colour?, dashed?}]`), e.g. accuracy against weights
/// remaining for each method. `log_x` puts x on a log axis (for weights remaining from 100% down
/// to a few percent); `y_range` fixes y as in [`draw_curves`].
#[wasm_bindgen(js_name = drawSeries)]
pub fn draw_series(
    canvas: HtmlCanvasElement,
    x_label: &str,
    y_label: &str,
    series: JsValue,
    log_x: bool,
    y_range: &[f64],
    dark: bool,
) -> Result<(), JsError> {
    let series: Vec<Series> = serde_wasm_bindgen::from_value(series)
        .map_err(|e| JsError::new(&format!("chart: bad series: {e}")))?;
    let (root, theme) = themed_root(canvas, dark)?;
    let points = || {
        series
            .iter()
            .flat_map(|s| s.x.iter().copied().zip(s.y.iter().copied()))
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
    };
    let (x_lo, x_hi) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (x, _)| {
        (lo.min(x), hi.max(x))
    });
    let (x_lo, x_hi) = match (x_lo.is_finite(), x_hi > x_lo) {
        (true, true) if log_x => (x_lo / 1.25, x_hi * 1.25),
        (true, true) => (x_lo, x_hi),
        (true, false) => (x_lo * 0.5, x_lo * 2.0 + 1.0),
        _ => (1.0, 100.0),
    };
    let (y_lo, y_hi) = match y_range {
        [lo, hi] if lo < hi => (*lo, *hi),
        _ => {
            let (lo, hi) = points().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y)| {
                (lo.min(y), hi.max(y))
            });
            if lo.is_finite() && hi > lo {
                let pad = (hi - lo) * 0.08;
                (lo - pad, hi + pad)
            } else if lo.is_finite() {
                (lo - 1.0, lo + 1.0)
            } else {
                (0.0, 1.0)
            }
        }
    };
    let text = ("sans-serif", 13).into_font().color(&theme.fg);
    let mut builder = ChartBuilder::on(&root);
    builder
        .margin(10)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size(56);
    if log_x {
        let mut chart = builder
            .build_cartesian_2d((x_lo..x_hi).log_scale(), y_lo..y_hi)
            .map_err(js_error)?;
        mesh_and_lines(&mut chart, &theme, text, x_label, y_label, &series)?;
    } else {
        let mut chart = builder
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(js_error)?;
        mesh_and_lines(&mut chart, &theme, text, x_label, y_label, &series)?;
    }
    root.present().map_err(js_error)?;
    Ok(())
}

/// The mesh, one line with markers per series, and the legend, on either x axis.
fn mesh_and_lines<'a, X>(
    chart: &mut ChartContext<
        'a,
        CanvasBackend,
        Cartesian2d<X, plotters::coord::types::RangedCoordf64>,
    >,
    theme: &Theme,
    text: TextStyle,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), JsError>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_labels(8)
        .y_labels(6)
        .label_style(text.clone())
        .axis_style(theme.fg)
        .light_line_style(theme.bg)
        .bold_line_style(theme.grid)
        .draw()
        .map_err(js_error)?;
    // Each series' points where they are drawn, for placing the legend.
    let mut drawn = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        let colour = series_colour(theme, s.colour.unwrap_or(i));
        let mut points: Vec<(f64, f64)> =
            s.x.iter()
                .copied()
                .zip(s.y.iter().copied())
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        drawn.push(normalised(chart, &points));
        let style = colour.stroke_width(2);
        if s.dashed {
            chart
                .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))
                .map_err(js_error)?
                .label(s.name.as_str())
                .legend(move |(lx, ly)| {
                    DashedPathElement::new([(lx, ly), (lx + 18, ly)], 6, 4, style)
                });
        } else {
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(js_error)?
                .label(s.name.as_str())
                .legend(move |(lx, ly)| PathElement::new([(lx, ly), (lx + 18, ly)], style));
        }
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )
            .map_err(js_error)?;
    }
    if !series.is_empty() {
        let names = series.iter().map(|s| s.name.as_str());
        let position = legend_position(chart, &drawn, names, &text)?;
        chart
            .configure_series_labels()
            .position(position)
            .label_font(text)
            .background_style(theme.bg.mix(0.85))
            .border_style(theme.grid)
            .draw()
            .map_err(js_error)?;
    }
    Ok(())
}

/// `points` (data coordinates) as fractions of `chart`'s plotting area, 0..1 rightward and upward.
/// They go through the chart's own mapping, so a log x axis is accounted for, and the result is
/// where the points are drawn.
fn normalised<X>(
    chart: &ChartContext<'_, CanvasBackend, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    points: &[(f64, f64)],
) -> Vec<(f64, f64)>
where
    X: Ranged<ValueType = f64>,
{
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let width = f64::from((xs.end - xs.start).max(1));
    let height = f64::from((ys.end - ys.start).max(1));
    points
        .iter()
        .map(|p| {
            let (px, py) = chart.backend_coord(p);
            (
                f64::from(px - xs.start) / width,
                f64::from(ys.end - py) / height,
            )
        })
        .collect()
}

/// Where the legend of the lines `drawn` (from [`normalised`]) hides the least of them. A fixed
/// corner covered data: the lower left, for one, hid the lowest point of curves that fall to the
/// left, such as magnitude's at 10% of the weights on the "Compare methods" chart's log axis. So
/// this measures the box plotters will draw for `names` in `text` and picks the corner with the
/// fewest points under it ([`crate::plot_layout::legend_corner`]).
fn legend_position<'n, X>(
    chart: &ChartContext<'_, CanvasBackend, Cartesian2d<X, plotters::coord::types::RangedCoordf64>>,
    drawn: &[Vec<(f64, f64)>],
    names: impl Iterator<Item = &'n str>,
    text: &TextStyle,
) -> Result<SeriesLabelPosition, JsError>
where
    X: Ranged<ValueType = f64>,
{
    use crate::plot_layout::{Corner, legend_corner};
    // plotters' legend box (`SeriesLabelStyle::draw` with its defaults): the names' lines, 30
    // pixels of sample line before them and a 10-pixel margin all round, 5 pixels in from the
    // plotting area's edges.
    let mut lines = plotters::element::MultiLineText::<_, &str>::new((0, 0), text.clone());
    for name in names {
        lines.push_line(name);
    }
    let (text_w, text_h) = lines.estimate_dimension().map_err(js_error)?;
    let (w, h) = chart.plotting_area().dim_in_pixel();
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let size = (f64::from(text_w + 30 + 20) / w, f64::from(text_h + 20) / h);
    let inset = (5.0 / w, 5.0 / h);
    Ok(match legend_corner(drawn, size, inset) {
        Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
        Corner::UpperRight => SeriesLabelPosition::UpperRight,
        Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        Corner::LowerRight => SeriesLabelPosition::LowerRight,
    })
}

/// Horizontal bars, one per label, e.g. forward-pass times of a model's variants or accuracies
/// before and after. Values label their bars; `unit` follows each value ("ms", "%").
#[wasm_bindgen(js_name = drawBars)]
pub fn draw_bars(
    canvas: HtmlCanvasElement,
    x_label: &str,
    labels: Vec<String>,
    values: &[f64],
    unit: &str,
    dark: bool,
) -> Result<(), JsError> {
    if labels.len() != values.len() {
        return Err(JsError::new(&format!(
            "chart: {} labels for {} values",
            labels.len(),
            values.len()
        )));
    }
    let (root, theme) = themed_root(canvas, dark)?;
    let top = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.2;
    let text = ("sans-serif", 13).into_font().color(&theme.fg);
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32;
    let n = labels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(34)
        .y_label_area_size((longest * 7 + 10).clamp(40, 200))
        .build_cartesian_2d(0.0..top, 0.0..n)
        .map_err(js_error)?;
    let names = labels.clone();
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_label)
        .x_labels(6)
        .y_labels(labels.len() * 2 + 1)
        // Bars sit at i + 0.5 counted from the top; label only those positions.
        .y_label_formatter(&move |y| {
            let i = (n - y - 0.5).round();
            if (n - y - 0.5 - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < names.len() {
                names[i as usize].clone()
            } else {
                String::new()
            }
        })
        .label_style(text.clone())
        .axis_style(theme.fg)
        .light_line_style(theme.bg)
        .bold_line_style(theme.grid)
        .draw()
        .map_err(js_error)?;
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let y = n - i as f64 - 1.0;
        let colour = series_colour(&theme, i);
        chart
            .draw_series([Rectangle::new(
                [(0.0, y + 0.2), (v, y + 0.8)],
                colour.filled(),
            )])
            .map_err(js_error)?;
        chart
            .draw_series([Text::new(
                format!("{} {unit}", format_value(v)),
                (v + top * 0.01, y + 0.62),
                text.clone(),
            )])
            .map_err(js_error)?;
    }
    root.present().map_err(js_error)?;
    Ok(())
}

/// Three significant digits, without an exponent for the sizes the page shows.
fn format_value(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        a if a >= 1.0 => format!("{v:.2}"),
        _ => format!("{v:.3}"),
    }
}
