//! The results as markdown tables (one per metric) and a PNG bar chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::servers::Kind;
use crate::wrk::WrkResult;

/// One measurement: a scenario on a server, or why it was skipped.
pub struct Cell {
    pub result: Option<WrkResult>,
    /// a command's time in place of a load's rate (lower is better)
    pub seconds: Option<f64>,
    pub peak_rss_kib: u64,
    pub note: Option<String>,
    /// another figure of the cell (disk use, startup time), for its own table
    pub extra: Option<String>,
}

impl Cell {
    /// A cell that was not measured, with the reason shown in the tables.
    pub fn skipped(why: &str) -> Cell {
        Cell {
            result: None,
            seconds: None,
            peak_rss_kib: 0,
            note: Some(why.to_string()),
            extra: None,
        }
    }

    /// A cell that is a command's time, with its figures for the other table.
    pub fn timed(seconds: f64, extra: String) -> Cell {
        Cell {
            result: None,
            seconds: Some(seconds),
            peak_rss_kib: 0,
            note: None,
            extra: Some(extra),
        }
    }

    /// How fast: requests per second, or for a timed cell runs per second,
    /// so that a ratio of two is how many times faster one was.
    pub fn speed(&self) -> Option<f64> {
        match (&self.result, self.seconds) {
            (Some(r), _) => Some(r.req_per_sec()),
            (None, Some(s)) => Some(1.0 / s.max(1e-9)),
            (None, None) => None,
        }
    }
}

pub struct Row {
    pub title: String,
    pub cells: Vec<(Kind, Cell)>,
}

fn fmt_count(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_us(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.0} ms", us as f64 / 1000.0)
    } else if us >= 1000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

/// asmkv as shipped (`--sync always`) over the best peer that `counts`, by
/// requests per second (for a timed row: the peer's time over asmkv's).
pub fn ratio(row: &Row, counts: PeerFilter) -> Option<f64> {
    let rate = Cell::speed;
    let asmkv = row
        .cells
        .iter()
        .find(|(k, _)| *k == Kind::Asmkv)
        .and_then(|(_, c)| rate(c))?;
    let best_peer = row
        .cells
        .iter()
        .filter(|(k, _)| !k.is_asmkv() && counts(*k))
        .filter_map(|(_, c)| rate(c))
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    Some(asmkv / best_peer)
}

/// Which peers a ratio compares with.
pub type PeerFilter = fn(Kind) -> bool;

/// The two ratios the README reports: over the durable peers, and over all.
pub const RATIOS: [(&str, PeerFilter); 2] = [
    ("asmkv / best durable peer", |k| k.durable()),
    ("asmkv / best peer", |_| true),
];

/// Program, its size, and the RSS of its processes at rest.
pub type Size = (Kind, String, u64, u64);

pub fn markdown(rows: &[Row], sizes: &[Size], header: &str) -> String {
    let mut md = String::new();
    writeln!(md, "{header}").unwrap();
    let kinds: Vec<Kind> = rows
        .first()
        .map(|r| r.cells.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    type Metric = (&'static str, fn(&WrkResult, u64) -> String);
    let metrics: [Metric; 5] = [
        ("Requests per second", |r, _| fmt_count(r.req_per_sec())),
        ("Latency p50 / p99", |r, _| {
            format!("{} / {}", fmt_us(r.p50_us), fmt_us(r.p99_us))
        }),
        ("Throughput (MB/s, response bytes)", |r, _| {
            format!("{:.1}", r.mb_per_sec())
        }),
        ("Errors (socket errors + non-2xx/3xx answers)", |r, _| {
            fmt_count(r.errors() as f64)
        }),
        ("Peak RSS of the server's processes", |_, rss| {
            format!("{:.1} MiB", rss as f64 / 1024.0)
        }),
    ];
    for (i, (name, f)) in metrics.iter().enumerate() {
        writeln!(md, "\n### {name}\n").unwrap();
        write!(md, "| scenario |").unwrap();
        for k in &kinds {
            write!(md, " {} |", k.label()).unwrap();
        }
        if i == 0 {
            for (name, _) in RATIOS {
                write!(md, " {name} |").unwrap();
            }
        }
        writeln!(md).unwrap();
        write!(md, "|---|").unwrap();
        for _ in &kinds {
            write!(md, "---:|").unwrap();
        }
        if i == 0 {
            write!(md, "---:|---:|").unwrap();
        }
        writeln!(md).unwrap();
        for row in rows {
            write!(md, "| {} |", row.title).unwrap();
            for (_, c) in &row.cells {
                write!(md, " {} |", cell_text(c, i, *f)).unwrap();
            }
            if i == 0 {
                for (_, counts) in RATIOS {
                    match ratio(row, counts) {
                        Some(x) => write!(md, " **{}×** |", fmt_ratio(x)).unwrap(),
                        None => write!(md, " – |").unwrap(),
                    }
                }
            }
            writeln!(md).unwrap();
        }
        if i == 0
            && rows
                .iter()
                .any(|r| r.cells.iter().any(|(_, c)| c.seconds.is_some()))
        {
            writeln!(
                md,
                "\nA cell in seconds is a command's time (lower is better); its ratios are the peer's time over asmkv's."
            )
            .unwrap();
        }
    }
    let extras: Vec<(&str, Kind, &str)> = rows
        .iter()
        .flat_map(|r| {
            r.cells
                .iter()
                .filter_map(move |(k, c)| c.extra.as_deref().map(|e| (r.title.as_str(), *k, e)))
        })
        .collect();
    if !extras.is_empty() {
        writeln!(md, "\n### Other figures of those runs\n").unwrap();
        writeln!(md, "| scenario | server | figure |\n|---|---|---|").unwrap();
        for (title, k, e) in extras {
            writeln!(md, "| {title} | {} | {e} |", k.label()).unwrap();
        }
    }
    writeln!(md, "\n### Binary size and idle RSS\n").unwrap();
    writeln!(
        md,
        "| server | program | size on disk | RSS at rest |\n|---|---|---:|---:|"
    )
    .unwrap();
    for (k, bin, size, idle_kib) in sizes {
        writeln!(
            md,
            "| {} | {} | {} | {:.1} MiB |",
            k.label(),
            bin,
            human_bytes(*size),
            *idle_kib as f64 / 1024.0
        )
        .unwrap();
    }
    md
}

/// A ratio with two decimals, or two significant digits below 0.1 (a
/// hundredfold slower is 0.010×, not 0.01×).
fn fmt_ratio(x: f64) -> String {
    if x < 0.1 {
        let decimals = (1.0 - x.max(1e-9).log10().floor()) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.2}")
    }
}

/// A cell's text in the table of metric `i` (the first: rates, and times).
fn cell_text(c: &Cell, i: usize, f: fn(&WrkResult, u64) -> String) -> String {
    match (&c.result, c.seconds, &c.note) {
        (Some(r), _, _) => f(r, c.peak_rss_kib),
        (None, Some(s), _) if i == 0 => format!("{s:.2} s"),
        (None, _, Some(n)) => n.clone(),
        _ => "–".to_string(),
    }
}

pub fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else if b >= 1 << 10 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{b} B")
    }
}

/// Grouped bars: each server's req/s relative to the best server of the scenario.
pub fn plot(rows: &[Row], path: &Path, title: &str) -> anyhow::Result<()> {
    let font = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").map_err(|e| {
        anyhow::anyhow!("font for the chart: {e} (apt-get install fonts-dejavu-core)")
    })?;
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow::anyhow!("cannot load the chart font"))?;

    let kinds: Vec<Kind> = rows
        .first()
        .map(|r| r.cells.iter().map(|(k, _)| *k).collect())
        .unwrap_or_default();
    let groups = rows.len();
    let per = kinds.len() + 1;
    let root = BitMapBackend::new(path, (1400, 700)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..(groups * per) as f64, 0f64..1.45f64)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("requests/s (or 1 / time) relative to the best server")
        .label_style(("sans-serif", 13))
        .draw()?;
    let palette = [
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(127, 127, 127),
    ];
    for (j, kind) in kinds.iter().enumerate() {
        let color = palette[j % palette.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .enumerate()
            .filter_map(|(g, row)| {
                let best = row
                    .cells
                    .iter()
                    .filter_map(|(_, c)| c.speed())
                    .fold(0f64, f64::max);
                let v = row.cells[j].1.speed()? / best.max(1e-9);
                let x = (g * per + j) as f64 + 0.5;
                Some(Rectangle::new([(x, 0.0), (x + 0.9, v)], color.filled()))
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(kind.label())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    // scenario names under their groups of bars
    let label = ("sans-serif", 11)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (g, row) in rows.iter().enumerate() {
        let center = (g * per) as f64 + 0.5 + kinds.len() as f64 / 2.0;
        let (x, y) = chart.backend_coord(&(center, 0.0));
        root.draw(&Text::new(row.title.clone(), (x, y + 8), label.clone()))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}

/// Writes results.md and results.png into `out`, and prints the markdown.
pub fn write(
    out: &Path,
    rows: &[Row],
    sizes: &[Size],
    header: &str,
    machine: &str,
) -> anyhow::Result<()> {
    let md = markdown(rows, sizes, header);
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("results.md"), &md)?;
    plot(
        rows,
        &out.join("results.png"),
        &format!("asmkv vs peers — {machine}"),
    )?;
    println!("{md}");
    eprintln!(
        "wrote {} and {}",
        out.join("results.md").display(),
        out.join("results.png").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fmt_ratio;

    #[test]
    fn small_ratios_keep_two_digits() {
        assert_eq!(fmt_ratio(2.419), "2.42");
        assert_eq!(fmt_ratio(0.01003), "0.010");
        assert_eq!(fmt_ratio(0.0567), "0.057");
    }
}
