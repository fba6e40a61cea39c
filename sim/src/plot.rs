//! SVG charts of a run's [`Timeline`], as strings: inlined in the HTML report and written next to
//! the Markdown one. plotters' SVG backend writes text as `<text>` elements with a generic font
//! family, so no font is read and the output is a pure function of the timeline (byte-identical
//! for a seed, like the rest of the report).
//!
//! Every chart shades the fault intervals (numbered as in the report's fault list), draws events
//! without duration as thin lines, and marks violations with red vertical lines.

use std::ops::Range;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::timeline::Timeline;

/// Chart size in SVG pixels (the HTML scales it to the page width).
pub const SIZE: (u32, u32) = (960, 400);

const FONT: &str = "sans-serif";
const MUTATING: RGBColor = RGBColor(31, 119, 180);
const MUTATING_LIGHT: RGBColor = RGBColor(140, 186, 222);
const READ: RGBColor = RGBColor(44, 160, 44);
const READ_LIGHT: RGBColor = RGBColor(150, 214, 140);
const WATCH: RGBColor = RGBColor(148, 103, 189);
const COMMITS: RGBColor = RGBColor(127, 127, 127);
const FAULT: RGBColor = RGBColor(245, 166, 35);
const VIOLATION: RGBColor = RGBColor(214, 39, 40);
const FAULT_TEXT: RGBColor = RGBColor(150, 90, 0);
const GRID: RGBColor = RGBColor(240, 240, 240);
/// Height of the title and legend row above each plot.
const HEADER_PX: u32 = 56;
/// Legend text size (plotters' units: the SVG font-size is this / 1.24).
const LEGEND_FONT: f64 = 16.0;

/// A chart could not be drawn (plotters reports backend errors; the SVG backend writing to a
/// string has none in practice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotError(pub String);

impl std::fmt::Display for PlotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "drawing a chart: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

fn err(e: impl std::fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// One line of a chart: values per bucket, `None` for a gap.
struct Line<'a> {
    label: &'a str,
    color: RGBColor,
    width: u32,
    values: Vec<Option<f64>>,
}

/// The report's three charts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charts {
    /// API latency p50/p99 over time, mutating and reads.
    pub latency: String,
    /// Requests, commits and pods started per second over time.
    pub throughput: String,
    /// Watch latency p99 over time.
    pub watch: String,
}

/// (file suffix, title) of each chart, in report order.
pub const CHART_NAMES: [(&str, &str); 3] = [
    ("latency", "API latency over time"),
    ("throughput", "Throughput over time"),
    ("watch", "Watch latency over time"),
];

impl Charts {
    /// (file suffix, title, SVG) of each chart, in report order.
    pub fn named(&self) -> [(&'static str, &'static str, &str); 3] {
        let [l, t, w] = CHART_NAMES;
        [(l.0, l.1, &self.latency), (t.0, t.1, &self.throughput), (w.0, w.1, &self.watch)]
    }
}

/// Draws all three charts.
pub fn charts(t: &Timeline) -> Result<Charts, PlotError> {
    Ok(Charts { latency: latency_chart(t)?, throughput: throughput_chart(t)?, watch: watch_chart(t)? })
}

/// API latency p50 and p99 per bucket, mutating requests and reads (get/list), log scale.
pub fn latency_chart(t: &Timeline) -> Result<String, PlotError> {
    let lines = [
        Line { label: "mutating p99", color: MUTATING, width: 2, values: t.mutating_p99_ms.clone() },
        Line { label: "mutating p50", color: MUTATING_LIGHT, width: 1, values: t.mutating_p50_ms.clone() },
        Line { label: "get/list p99", color: READ, width: 2, values: t.read_p99_ms.clone() },
        Line { label: "get/list p50", color: READ_LIGHT, width: 1, values: t.read_p50_ms.clone() },
    ];
    log_chart(t, "API latency (simulated ms, log scale)", &lines)
}

/// Watch latency (store commit → delivery, live events) p99 per bucket, log scale.
pub fn watch_chart(t: &Timeline) -> Result<String, PlotError> {
    let lines = [Line {
        label: "watch p99 (commit → delivery)",
        color: WATCH,
        width: 2,
        values: t.watch_p99_ms.clone(),
    }];
    log_chart(t, "Watch latency (simulated ms, log scale)", &lines)
}

/// Requests and commits per second (left axis) and pods started per second (right axis), as
/// moving averages over about a second: per-bucket counts of 100 ms buckets would jump between
/// multiples of 10/s.
pub fn throughput_chart(t: &Timeline) -> Result<String, PlotError> {
    let window = (1000 / t.bucket_ms.max(1)).max(1) as usize;
    let rate =
        |counts: &[u64]| smooth(&t.per_second(counts), window).into_iter().map(Some).collect::<Vec<_>>();
    let left = [
        Line { label: "API requests/s (left)", color: MUTATING, width: 2, values: rate(&t.requests) },
        Line { label: "store commits/s (left)", color: COMMITS, width: 1, values: rate(&t.commits) },
    ];
    let right =
        [Line { label: "pods started/s (right)", color: READ, width: 2, values: rate(&t.pods_started) }];
    let top = |lines: &[Line]| {
        let max = lines.iter().flat_map(|l| l.values.iter().flatten()).fold(0.0f64, |a, &b| a.max(b));
        nice_ceiling(max * 1.05)
    };
    let (left_max, right_max) = (top(&left), top(&right));
    let caption = if window > 1 {
        format!("Throughput (per simulated second, {} ms moving average)", window as u64 * t.bucket_ms)
    } else {
        "Throughput (per simulated second)".to_owned()
    };
    let x = x_range(t);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (head, body) = root.split_vertically(HEADER_PX);
        draw_header(&head, &caption, left.iter().chain(&right), t)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(x.clone(), 0.0..left_max)
            .map_err(err)?
            .set_secondary_coord(x.clone(), 0.0..right_max);
        chart
            .configure_mesh()
            .x_desc("simulated s")
            .y_desc("requests, commits per s")
            .x_label_formatter(&|v| number(*v))
            .y_label_formatter(&|v| number(*v))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 17))
            .light_line_style(GRID)
            .draw()
            .map_err(err)?;
        chart
            .configure_secondary_axes()
            .y_desc("pods started per s")
            .y_label_formatter(&|v| number(*v))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 17))
            .draw()
            .map_err(err)?;
        draw_markers(&mut chart, t, 0.0..left_max)?;
        for l in &left {
            for seg in segments(t, &l.values) {
                chart.draw_series(LineSeries::new(seg, l.color.stroke_width(l.width))).map_err(err)?;
            }
        }
        for l in &right {
            for seg in segments(t, &l.values) {
                chart
                    .draw_secondary_series(LineSeries::new(seg, l.color.stroke_width(l.width)))
                    .map_err(err)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// A time chart of latencies on a log scale spanning whole decades of the data.
fn log_chart(t: &Timeline, caption: &str, lines: &[Line]) -> Result<String, PlotError> {
    let values = || lines.iter().flat_map(|l| l.values.iter().flatten().copied());
    let lo = values().fold(f64::INFINITY, f64::min);
    let hi = values().fold(0.0f64, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        let lo = 10f64.powf(lo.max(0.001).log10().floor());
        let hi = 10f64.powf(hi.log10().ceil());
        (lo, if hi <= lo { lo * 10.0 } else { hi })
    } else {
        (1.0, 1000.0)
    };
    let x = x_range(t);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (head, body) = root.split_vertically(HEADER_PX);
        draw_header(&head, caption, lines.iter(), t)?;
        let mut chart = ChartBuilder::on(&body)
            .margin(12)
            .margin_top(4)
            .margin_right(76)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulated s")
            .y_desc("ms")
            .x_label_formatter(&|v| number(*v))
            .y_label_formatter(&|v| format_ms(*v))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 17))
            .light_line_style(GRID)
            .draw()
            .map_err(err)?;
        draw_markers(&mut chart, t, lo..hi)?;
        for l in lines {
            draw_line(&mut chart, t, l)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

fn x_range(t: &Timeline) -> Range<f64> {
    0.0..t.span_s().max(0.1)
}

/// Centered moving average over `window` buckets (fewer at the edges).
fn smooth(values: &[f64], window: usize) -> Vec<f64> {
    if window <= 1 {
        return values.to_vec();
    }
    (0..values.len())
        .map(|i| {
            let lo = i.saturating_sub(window / 2);
            let hi = (i + window.div_ceil(2)).min(values.len());
            values[lo..hi].iter().sum::<f64>() / (hi - lo) as f64
        })
        .collect()
}

/// 1, 2 or 5 times a power of ten, at least `v` (a clean top for a linear axis).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * p).find(|&c| c >= v).unwrap_or(10.0 * p)
}

/// An axis label: `0`, `2.5`, `1200` (no trailing `.0`).
fn number(v: f64) -> String {
    let s = format!("{:.3}", (v * 1000.0).round() / 1000.0);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A tick label in ms: `0.01`, `1`, `250`, `10k`.
fn format_ms(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{}k", (v / 1000.0).round())
    } else {
        number(v)
    }
}

/// The contiguous runs of a series (a `None` breaks the line), at bucket midpoints.
fn segments(t: &Timeline, values: &[Option<f64>]) -> Vec<Vec<(f64, f64)>> {
    let half = t.bucket_ms as f64 / 2000.0;
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(v) => run.push((t.bucket_start_s(i) + half, *v)),
            None if !run.is_empty() => out.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

type Chart<'a, 'b, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, Y>>;
type Area<'b> = DrawingArea<SVGBackend<'b>, plotters::coord::Shift>;

/// The chart's title and, under it, its legend in one row (outside the plot, so it never hides
/// data): each series, then the fault shading and violation line when the run has them.
fn draw_header<'l>(
    area: &Area<'_>,
    caption: &str,
    lines: impl Iterator<Item = &'l Line<'l>>,
    t: &Timeline,
) -> Result<(), PlotError> {
    let width = area.dim_in_pixel().0 as i32;
    let title = TextStyle::from((FONT, 20).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(caption, (width / 2, 6), title)).map_err(err)?;

    enum Key {
        Line(RGBColor, u32),
        Shade,
        Rule,
    }
    let mut keys: Vec<(&str, Key)> = lines.map(|l| (l.label, Key::Line(l.color, l.width))).collect();
    if !t.faults.is_empty() {
        keys.push(("fault (numbered as listed)", Key::Shade));
    }
    if !t.violations.is_empty() {
        keys.push(("violation", Key::Rule));
    }
    // plotters cannot measure text in SVG; ~0.6 em per character is close for sans-serif.
    let text_px = |s: &str| (s.chars().count() as f64 * LEGEND_FONT / 1.24 * 0.55).round() as i32;
    let item_px = |s: &str| 24 + text_px(s) + 18;
    let total: i32 = keys.iter().map(|(s, _)| item_px(s)).sum();
    let mut x = ((width - total) / 2).max(4);
    let y = 40;
    let style = TextStyle::from((FONT, LEGEND_FONT).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (label, key) in &keys {
        match key {
            Key::Line(c, w) => area
                .draw(&PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(*w + 1)))
                .map_err(err)?,
            Key::Shade => area
                .draw(&Rectangle::new([(x, y - 6), (x + 18, y + 6)], FAULT.mix(0.35).filled()))
                .map_err(err)?,
            Key::Rule => area
                .draw(&PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], VIOLATION.stroke_width(2)))
                .map_err(err)?,
        }
        area.draw(&Text::new(*label, (x + 24, y), style.clone())).map_err(err)?;
        x += item_px(label);
    }
    Ok(())
}

/// One series: its segments as lines, a lone point as a dot.
fn draw_line<Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<'_, '_, Y>,
    t: &Timeline,
    l: &Line,
) -> Result<(), PlotError> {
    for seg in segments(t, &l.values) {
        if seg.len() == 1 {
            chart.draw_series(seg.iter().map(|&p| Circle::new(p, 2, l.color.filled()))).map_err(err)?;
        } else {
            chart.draw_series(LineSeries::new(seg, l.color.stroke_width(l.width))).map_err(err)?;
        }
    }
    Ok(())
}

/// Fault intervals shaded (events without duration as thin lines), each numbered at the top, and
/// violations as red lines; drawn first so the series stay on top.
fn draw_markers<Y: Ranged<ValueType = f64>>(
    chart: &mut Chart<'_, '_, Y>,
    t: &Timeline,
    y: Range<f64>,
) -> Result<(), PlotError> {
    let end = t.span_s();
    for (i, f) in t.faults.iter().enumerate() {
        let x0 = f.start_s.min(end);
        match f.end_s {
            Some(x1) => {
                let x1 = x1.clamp(x0, end);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, y.start), (x1, y.end)],
                        FAULT.mix(0.2).filled(),
                    )))
                    .map_err(err)?;
            }
            None => {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x0, y.start), (x0, y.end)],
                        FAULT.mix(0.8),
                    )))
                    .map_err(err)?;
            }
        }
        // Staggered so that numbers of faults close together stay readable.
        let number = EmptyElement::at((x0, y.end))
            + Text::new(
                format!("{}", i + 1),
                (3, 3 + 13 * (i as i32 % 3)),
                (FONT, 14).into_font().color(&FAULT_TEXT),
            );
        chart.draw_series(std::iter::once(number)).map_err(err)?;
    }
    for v in &t.violations {
        let x = v.time_s.min(end);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y.start), (x, y.end)],
                VIOLATION.stroke_width(2),
            )))
            .map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{FaultMark, ViolationMark};

    fn timeline() -> Timeline {
        Timeline {
            bucket_ms: 500,
            buckets: 4,
            requests: vec![10, 20, 0, 5],
            commits: vec![4, 8, 0, 2],
            pods_started: vec![1, 3, 0, 1],
            mutating_p50_ms: vec![Some(2.0), Some(3.0), None, Some(2.5)],
            mutating_p99_ms: vec![Some(9.0), Some(40.0), None, Some(8.0)],
            read_p50_ms: vec![Some(1.0), None, None, Some(1.2)],
            read_p99_ms: vec![Some(3.0), None, None, Some(4.0)],
            watch_p99_ms: vec![Some(5.0), Some(7.5), None, None],
            faults: vec![],
            violations: vec![],
        }
    }

    #[test]
    fn plot_svgs_are_well_formed_and_carry_their_series() {
        let c = charts(&timeline()).expect("draws");
        for (svg, labels) in [
            (&c.latency, &["mutating p99", "mutating p50", "get/list p99", "get/list p50"][..]),
            (&c.throughput, &["API requests/s", "store commits/s", "pods started/s"][..]),
            (&c.watch, &["watch p99"][..]),
        ] {
            assert!(svg.starts_with("<svg"), "{svg:.80}");
            assert!(svg.trim_end().ends_with("</svg>"));
            assert!(svg.contains("<polyline"), "a series line is drawn");
            assert!(svg.contains("simulated s"));
            for l in labels {
                assert!(svg.contains(l), "legend {l} missing");
            }
            assert!(!svg.contains("fault (numbered"), "no fault legend without faults");
            assert!(!svg.contains("violation"));
            assert!(!svg.contains("NaN") && !svg.contains("inf"));
        }
        // Deterministic output.
        assert_eq!(charts(&timeline()).expect("draws"), c);
    }

    #[test]
    fn plot_shades_faults_and_marks_violations() {
        let mut t = timeline();
        t.faults = vec![
            FaultMark {
                start_s: 0.5,
                end_s: Some(1.25),
                what: "crash Store[0] for 0.8s".into(),
                healed: None,
            },
            FaultMark { start_s: 1.5, end_s: None, what: "forced compaction".into(), healed: None },
        ];
        t.violations = vec![ViolationMark { time_s: 1.1, checker: "watch-ordered".into(), count: 1 }];
        let fault_fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", FAULT.0, FAULT.1, FAULT.2);
        let violation_stroke =
            format!("stroke=\"#{:02X}{:02X}{:02X}\"", VIOLATION.0, VIOLATION.1, VIOLATION.2);
        for svg in [latency_chart(&t), throughput_chart(&t), watch_chart(&t)] {
            let svg = svg.expect("draws");
            assert!(svg.contains(&fault_fill), "fault shading missing");
            assert!(svg.contains("fault (numbered as listed)"));
            assert!(svg.contains(&violation_stroke), "violation marker missing");
            assert!(svg.contains(">\n2\n</text>") || svg.contains(">2</text>"), "fault number label");
        }
    }

    #[test]
    fn plot_empty_timeline_still_draws() {
        let t = Timeline { bucket_ms: 100, buckets: 1, ..Timeline::default() };
        let c = charts(&t).expect("draws");
        assert!(c.latency.starts_with("<svg") && c.throughput.starts_with("<svg"));
    }

    #[test]
    fn plot_helpers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(110.0), 200.0);
        assert_eq!(format_ms(0.01), "0.01");
        assert_eq!(format_ms(100.0), "100");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1200.0), "1200");
        assert_eq!(smooth(&[0.0, 10.0, 20.0, 0.0], 2), vec![0.0, 5.0, 15.0, 10.0]);
        assert_eq!(smooth(&[1.0, 2.0], 1), vec![1.0, 2.0]);
        assert_eq!(format_ms(100_000.0), "100k");
        let t = timeline();
        let segs = segments(&t, &t.mutating_p99_ms);
        assert_eq!(segs, vec![vec![(0.25, 9.0), (0.75, 40.0)], vec![(1.75, 8.0)]]);
    }
}
