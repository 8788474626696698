//! Plots of a training run from its `metrics.jsonl`: loss and dev F1 per epoch, and per-type
//! dev F1 of the best epoch (SVG).

use anyhow::Result;
use plotters::prelude::*;
use std::path::Path;

struct Epoch {
    epoch: f64,
    loss: f64,
    f1: f64,
    per_type: Vec<(String, f64)>,
    best: bool,
}

fn read(dir: &Path) -> Result<Vec<Epoch>> {
    let lines = ner_model::training::metrics::read(dir)?;
    anyhow::ensure!(!lines.is_empty(), "no metrics.jsonl in {}", dir.display());
    Ok(lines
        .into_iter()
        .map(|l| Epoch {
            epoch: l.epoch as f64,
            loss: l.train_loss,
            f1: l.dev.f1,
            per_type: l.dev.per_type.into_iter().map(|(k, s)| (k, s.f1)).collect(),
            best: l.best,
        })
        .collect())
}

/// A line chart of `(x, y)` series, written as SVG.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_y: bool,
) -> Result<()> {
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x, y) = bounds(series, log_y);
    let mut chart = ChartBuilder::on(&root);
    chart
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(if log_y { 80 } else { 60 });
    let labels = (x_label, y_label);
    match log_y {
        true => log_lines(&mut chart, x, y, labels, series)?,
        false => linear_lines(&mut chart, x, y, labels, series)?,
    }
    root.present()?;
    Ok(())
}

const COLORS: [&RGBColor; 6] = [&BLUE, &RED, &GREEN, &MAGENTA, &CYAN, &BLACK];

/// The x and y ranges of the points that can be drawn (positive ones on a log scale).
fn bounds(series: &[(String, Vec<(f64, f64)>)], log_y: bool) -> ((f64, f64), (f64, f64)) {
    let pts = series.iter().flat_map(|s| s.1.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts.filter(|p| p.1.is_finite() && (!log_y || p.1 > 0.0)) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.1, 1.0);
    }
    if x1 == x0 {
        x1 = x0 + 1.0;
    }
    ((x0, x1), (y0, y1))
}

type Builder<'a, 'b, 'c> = ChartBuilder<'a, 'b, SVGBackend<'c>>;

/// The series as lines on a logarithmic y axis (points at or below zero left out).
fn log_lines(
    chart: &mut Builder,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    (x_label, y_label): (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let (lo, hi) = (y0.max(1e-30) / 2.0, y1 * 2.0);
    let mut c = chart.build_cartesian_2d(x0..x1, (lo..hi).log_scale())?;
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let col = COLORS[i % COLORS.len()];
        c.draw_series(LineSeries::new(
            pts.iter().copied().filter(|p| p.1 > 0.0),
            col,
        ))?
        .label(name.as_str())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col));
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The series as lines with a dot at each point, on a linear y axis with a 5% margin.
fn linear_lines(
    chart: &mut Builder,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    (x_label, y_label): (&str, &str),
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let pad = ((y1 - y0) * 0.05).max(1e-6);
    let mut c = chart.build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))?;
    c.configure_mesh().x_desc(x_label).y_desc(y_label).draw()?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let col = COLORS[i % COLORS.len()];
        c.draw_series(LineSeries::new(pts.iter().copied(), col))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col));
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, col.filled())))?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// Writes `loss.svg`, `dev_f1.svg` and `per_type_f1.svg` into `dir`.
pub fn plot_run(dir: &Path) -> Result<()> {
    let epochs = read(dir)?;
    let Some(last) = epochs.last() else {
        return Ok(());
    };
    line_chart(
        &dir.join("loss.svg"),
        "Training loss",
        "epoch",
        "mean NLL per sentence",
        &[(
            "train loss".into(),
            epochs.iter().map(|e| (e.epoch, e.loss)).collect(),
        )],
        false,
    )?;
    line_chart(
        &dir.join("dev_f1.svg"),
        "Dev entity F1",
        "epoch",
        "F1 (%)",
        &[(
            "dev F1".into(),
            epochs.iter().map(|e| (e.epoch, e.f1)).collect(),
        )],
        false,
    )?;
    let best = epochs.iter().rev().find(|e| e.best).unwrap_or(last);
    per_type_chart(&dir.join("per_type_f1.svg"), best)
}

/// A bar per entity type: its dev F1 at `best`.
fn per_type_chart(path: &Path, best: &Epoch) -> Result<()> {
    let root = SVGBackend::new(path, (720, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let names: Vec<String> = best.per_type.iter().map(|p| p.0.clone()).collect();
    let n = names.len().max(1);
    let mut c = ChartBuilder::on(&root)
        .caption(
            format!("Dev F1 per type, best epoch ({})", best.epoch),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((0..n).into_segmented(), 0.0..100.0)?;
    c.configure_mesh()
        .y_desc("F1 (%)")
        .x_label_formatter(&|x| match x {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .draw()?;
    c.draw_series(
        Histogram::vertical(&c)
            .style(BLUE.mix(0.6).filled())
            .margin(20)
            .data(best.per_type.iter().enumerate().map(|(i, p)| (i, p.1))),
    )?;
    root.present()?;
    Ok(())
}

/// A series of `(x, y, low, high)` points: a line through `y` with a bar from `low` to `high`.
#[derive(Debug, Clone)]
pub struct Band {
    pub name: String,
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// Lines with spread bars against a logarithmic x axis, y from 0 to 1 (SVG).
pub fn band_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    bands: &[Band],
) -> Result<()> {
    let root = SVGBackend::new(path, (760, 460)).into_drawing_area();
    root.fill(&WHITE)?;
    let xs = bands
        .iter()
        .flat_map(|b| b.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0);
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0 > x1 {
        (1.0, 10.0)
    } else {
        (x0 / 1.3, x1 * 1.3)
    };
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((x0..x1).log_scale(), 0.0..1.02)?;
    c.configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let colors = [&BLUE, &RED, &GREEN, &MAGENTA, &CYAN, &BLACK];
    for (i, b) in bands.iter().enumerate() {
        let col = colors[i % colors.len()];
        c.draw_series(LineSeries::new(b.points.iter().map(|p| (p.0, p.1)), col))?
            .label(b.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col));
        c.draw_series(
            b.points
                .iter()
                .map(|p| ErrorBar::new_vertical(p.0, p.2, p.1, p.3, col.filled(), 6)),
        )?;
    }
    c.draw_series(LineSeries::new([(x0, 0.5), (x1, 0.5)], BLACK.mix(0.3)))?
        .label("chance")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.3)));
    c.configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
