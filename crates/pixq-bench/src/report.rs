//! `report.svg`: the pipeline scenario's steps per second and Redis CPU per step, as bars,
//! pixq (Redis, embedded) beside the BullMQ peer.

use std::path::Path;

use anyhow::{Context, anyhow};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

/// The width and height of the picture, in pixels.
const SIZE: (u32, u32) = (1200, 520);
/// The bars of pixq on Redis, of pixq on the embedded store, and of the peer.
const PIXQ_REDIS: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const PIXQ_EMBEDDED: RGBColor = RGBColor(0x3a, 0xa1, 0x7e);
const PEER: RGBColor = RGBColor(0xdd, 0x8a, 0x2c);

/// One bar: a system and its value.
#[derive(Debug, Clone)]
struct Bar {
    label: String,
    value: f64,
    color: RGBColor,
}

/// The colour of a system's bars.
fn color_of(row: &Value) -> RGBColor {
    if row["system"]
        .as_str()
        .is_some_and(|s| s.starts_with("bullmq"))
    {
        PEER
    } else if row["backend"] == "embedded" {
        PIXQ_EMBEDDED
    } else {
        PIXQ_REDIS
    }
}

/// Draws `path` from the rows of one pipeline record (`subtitle` says which run).
pub fn draw(path: &Path, rows: &[Value], subtitle: &str) -> anyhow::Result<()> {
    let bars = |figure: &dyn Fn(&Value) -> Option<f64>| -> Vec<Bar> {
        rows.iter()
            .filter(|r| r.get("error").is_none())
            .filter_map(|r| {
                Some(Bar {
                    label: r["system"].as_str()?.to_owned(),
                    value: figure(r)?,
                    color: color_of(r),
                })
            })
            .collect()
    };
    let rate = bars(&|r| r["steps_per_s"].as_f64());
    let cpu = bars(&|r| Some(r["redis"]["cpu_ms_per_1k_steps"].as_f64()? / 1000.0));
    if rate.is_empty() {
        return Err(anyhow!("no pipeline figures to draw"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(60);
    title.draw(&Text::new(
        "pixq pipeline benchmark",
        (20, 8),
        ("sans-serif", 24).into_font().color(&BLACK),
    ))?;
    title.draw(&Text::new(
        subtitle.to_owned(),
        (20, 36),
        ("sans-serif", 14).into_font().color(&BLACK.mix(0.7)),
    ))?;
    let (left, right) = body.split_horizontally(SIZE.0 / 2);
    panel(&left, "steps per second (higher is better)", &rate, 0)?;
    let cpu_caption = if rows.iter().any(|r| r["backend"] == "embedded") {
        "Redis CPU per step, ms (lower is better; embedded has none)"
    } else {
        "Redis CPU per step, ms (lower is better)"
    };
    panel(&right, cpu_caption, &cpu, 3)?;
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// One bar chart on `area`, values labelled with `decimals` decimals.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    caption: &str,
    bars: &[Bar],
    decimals: usize,
) -> anyhow::Result<()> {
    let top = bars
        .iter()
        .map(|b| b.value)
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.2;
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        // A discrete range includes its end: 0..n-1 makes n segments.
        .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => bars.get(*i).map_or_else(String::new, |b| b.label.clone()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label)
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .light_line_style(WHITE)
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), b.value),
            ],
            b.color.filled(),
        );
        bar.set_margin(0, 0, 12, 12);
        bar
    }))?;
    chart.draw_series(bars.iter().enumerate().map(|(i, b)| {
        Text::new(
            format!("{:.decimals$}", b.value),
            (SegmentValue::CenterOf(i), b.value + top * 0.02),
            TextStyle::from(("sans-serif", 14).into_font())
                .pos(Pos::new(HPos::Center, VPos::Bottom)),
        )
    }))?;
    Ok(())
}
