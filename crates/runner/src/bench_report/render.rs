//! What the benchmark report says: its sections, tables and charts, with times and rates in
//! readable units, as a [`Document`] rendered once to Markdown and once to HTML.

use std::collections::BTreeMap;

use super::anchors::{PEER_LABEL, peers};
use super::criterion::{Benchmark, Throughput, natural_key};
use super::peak::family_dtype;
use super::plots::{BarChart, BarSeries, Chart, LineChart, Series};
use super::{BenchReportOptions, Comparison, Machine, Verdict};
use crate::document::{Block, Document, HtmlStyle, PlotFiles};

/// The implementation whose rows the report is about.
const OURS: &str = "depthlab";

/// The look of the page: tables of numbers, right-aligned so digits line up, except the first
/// column, which names the row.
const HTML_STYLE: HtmlStyle = HtmlStyle {
    css: "\n\
          body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }\n\
          table { border-collapse: collapse; margin: 1em 0; }\n\
          th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }\n\
          th:first-child, td:first-child { text-align: left; }\n\
          img { max-width: 100%; }\n",
    navigation: false,
};

/// The rendered report and the charts it links to (file stem → chart).
pub(crate) struct Rendered {
    /// `README.md`.
    pub markdown: String,
    /// `index.html`.
    pub html: String,
    /// Charts to draw under `plots/`, by file stem.
    pub charts: Vec<(String, Chart)>,
}

/// Marks a share of the peak above 100%: the probe ran at another time, at another clock.
const ABOVE_PEAK: &str = "†";

/// What a point above the probe's peak means, for the header and under each table.
const ABOVE_PEAK_WHY: &str = "the machine ran faster during the benches than during the \
     peak probe, measured at another time, so percentages are relative to the probe, not a \
     hard ceiling";

/// `g` as a share of `peak`, marked [`ABOVE_PEAK`] beyond it.
fn pct_of_peak(g: f64, peak: f64) -> String {
    let mark = if g > peak { ABOVE_PEAK } else { "" };
    format!("{:.0}%{mark}", 100.0 * g / peak)
}

/// `n` and the noun, plural unless `n` is 1.
fn count_of(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The probe's ceiling for a GEMM family at a thread count, when a probe file was given.
fn family_peak(machine: &Machine, family: &str, threads: usize) -> Option<f64> {
    let dtype = family_dtype(family)?;
    machine.peak.as_ref()?.gflops(dtype, threads)
}

/// How many of a family's rates (every implementation) exceed its probe ceiling.
fn count_above_peak(cells: &Cell<'_>, peak: Option<f64>) -> usize {
    peak.map_or(0, |p| {
        cells
            .values()
            .filter_map(|b| gflops(b))
            .filter(|&g| g > p)
            .count()
    })
}

/// The x axis of a non-square GEMM family's bar chart.
fn shape_axis(family: &str) -> &'static str {
    match family {
        "mlp" => "layer product (fwd_B×in×out = X·Wᵀ, wgrad_B×in×out = dYᵀ·X)",
        "linear_fwd" => "Linear forward (fwd_B×in×out: batch × in → out)",
        "linear_bwd" => "Linear backward (bwd_B×in×out: batch × in → out)",
        _ => "shape",
    }
}

/// Colour slot per implementation, stable across every chart.
fn impl_color(name: &str) -> usize {
    match name {
        OURS => 0,
        "gemm" => 1,
        "matrixmultiply" => 2,
        "naive" => 3,
        other => 4 + other.bytes().map(usize::from).sum::<usize>() % 4,
    }
}

/// Implementations in display order: ours first, then the peers alphabetically.
fn impl_order(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.collect();
    v.sort_by_key(|n| (n != OURS, n.clone()));
    v.dedup();
    v
}

/// `512x512x512` → 512 when all three dimensions agree.
fn square_size(value: &str) -> Option<u64> {
    let dims: Vec<u64> = value
        .split('x')
        .map(|d| d.parse().ok())
        .collect::<Option<_>>()?;
    (dims.len() == 3 && dims.iter().all(|&d| d == dims[0])).then(|| dims[0])
}

/// A time in nanoseconds with a readable unit.
pub(crate) fn fmt_time(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.3} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// A rate with an SI prefix.
pub(crate) fn fmt_rate(per_s: f64, unit: &str) -> String {
    let (v, p) = if per_s >= 1e9 {
        (per_s / 1e9, "G")
    } else if per_s >= 1e6 {
        (per_s / 1e6, "M")
    } else if per_s >= 1e3 {
        (per_s / 1e3, "k")
    } else {
        (per_s, "")
    };
    format!("{v:.3} {p}{unit}/s")
}

fn fmt_pct(x: f64) -> String {
    format!("{:+.1}%", x * 100.0)
}

fn throughput_unit(b: &Benchmark) -> &'static str {
    let (family, _) = b.family_threads();
    match b.throughput {
        Some(Throughput::Elements(_)) if family_dtype(family).is_some() => "FLOP",
        Some(Throughput::Elements(_)) if family == "train" => "samples",
        Some(Throughput::Elements(_)) if family == "sweep" => "runs",
        Some(Throughput::Elements(_)) => "elem",
        Some(Throughput::Bytes(_)) => "B",
        Some(Throughput::Bits(_)) => "bit",
        None => "",
    }
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// A chart's files under `plots/`, where the caller draws it.
fn plot_files(stem: &str) -> PlotFiles {
    PlotFiles {
        svg: format!("plots/{stem}.svg"),
        png: format!("plots/{stem}.png"),
    }
}

/// Benchmarks of one family at one thread count, keyed by (implementation, value).
type Cell<'a> = BTreeMap<(String, String), &'a Benchmark>;

fn by_family<'a>(benches: &'a [Benchmark]) -> BTreeMap<(String, usize), Cell<'a>> {
    let mut out: BTreeMap<(String, usize), Cell<'a>> = BTreeMap::new();
    for b in benches {
        let (family, threads) = b.family_threads();
        let key = (
            b.implementation().to_string(),
            b.value.clone().unwrap_or_default(),
        );
        out.entry((family.to_string(), threads))
            .or_default()
            .insert(key, b);
    }
    out
}

fn gflops(b: &Benchmark) -> Option<f64> {
    b.rate().map(|r| r / 1e9)
}

/// The GEMM section of one (family, threads): a chart plus a table of GFLOP/s, % of peak and
/// our ratio to the best peer.
fn gemm_section(
    family: &str,
    threads: usize,
    cells: &Cell<'_>,
    machine: &Machine,
    blocks: &mut Vec<Block>,
    charts: &mut Vec<(String, Chart)>,
) {
    let dtype = family_dtype(family).unwrap_or("f32");
    let peak = family_peak(machine, family, threads);
    let above = count_above_peak(cells, peak);
    let impls = impl_order(cells.keys().map(|k| k.0.clone()));
    let mut values: Vec<String> = cells.keys().map(|k| k.1.clone()).collect();
    let square = values.iter().all(|v| square_size(v).is_some());
    values.sort_by_key(|v| natural_key(v));
    values.dedup();
    let stem = format!("{family}_{threads}t");
    let thread_words = if threads == 1 {
        "1 thread".to_string()
    } else {
        format!("{threads} threads")
    };
    let pct = |g: f64| peak.map(|p| pct_of_peak(g, p));

    let chart = if square {
        Chart::Line(LineChart {
            title: format!("{family}: {dtype} GFLOP/s vs size, {thread_words}"),
            x_desc: "n (n×n·n×n)".to_string(),
            y_desc: "GFLOP/s".to_string(),
            series: impls
                .iter()
                .map(|imp| {
                    let pts: Vec<(f64, f64)> = values
                        .iter()
                        .filter_map(|v| {
                            let b = cells.get(&(imp.clone(), v.clone()))?;
                            Some((square_size(v)? as f64, gflops(b)?))
                        })
                        .collect();
                    let labels = pts
                        .iter()
                        .map(|&(_, g)| if imp == OURS { pct(g) } else { None })
                        .collect();
                    Series {
                        name: imp.clone(),
                        points: pts,
                        point_labels: labels,
                        color: impl_color(imp),
                    }
                })
                .collect(),
            ceilings: peak
                .map(|p| {
                    let flag = if above > 0 {
                        format!(" (probe; {ABOVE_PEAK} above)")
                    } else {
                        String::new()
                    };
                    vec![(format!("measured peak {dtype} {threads}T{flag}"), p)]
                })
                .unwrap_or_default(),
        })
    } else {
        Chart::Bar(BarChart {
            title: format!("{family}: {dtype} GFLOP/s per shape, {thread_words}"),
            x_desc: shape_axis(family).to_string(),
            y_desc: "GFLOP/s".to_string(),
            categories: values.clone(),
            series: impls
                .iter()
                .map(|imp| BarSeries {
                    name: imp.clone(),
                    values: values
                        .iter()
                        .map(|v| cells.get(&(imp.clone(), v.clone())).and_then(|b| gflops(b)))
                        .collect(),
                    color: impl_color(imp),
                    reference: false,
                })
                .collect(),
            note: peak.map(|p| {
                let mut note = format!("measured peak {dtype} {threads}T: {p:.0} GFLOP/s");
                if above > 0 {
                    note.push_str(&format!(
                        "; {} above it (the probe ran at another time)",
                        count_of(above, "bar")
                    ));
                }
                note
            }),
        })
    };
    blocks.push(Block::Heading(3, format!("`{family}` at {thread_words}")));
    blocks.push(Block::Figure {
        files: plot_files(&stem),
        title: format!("{family} {thread_words}"),
        caption: None,
    });
    let mut header = vec!["shape".to_string()];
    header.extend(impls.iter().map(|i| format!("{i} GFLOP/s")));
    let has_ours = impls.iter().any(|i| i == OURS);
    if has_ours && impls.len() > 1 {
        header.push("depthlab / best peer".to_string());
    }
    let mut rows = Vec::new();
    for v in &values {
        let mut row = vec![v.clone()];
        let mut best_peer: Option<f64> = None;
        for imp in &impls {
            let g = cells.get(&(imp.clone(), v.clone())).and_then(|b| gflops(b));
            if imp != OURS
                && let Some(g) = g
            {
                best_peer = Some(best_peer.map_or(g, |b: f64| b.max(g)));
            }
            row.push(match (g, g.and_then(pct)) {
                (Some(g), Some(p)) => format!("{g:.1} ({p})"),
                (Some(g), None) => format!("{g:.1}"),
                _ => "–".to_string(),
            });
        }
        if has_ours && impls.len() > 1 {
            let ours = cells
                .get(&(OURS.to_string(), v.clone()))
                .and_then(|b| gflops(b));
            row.push(match (ours, best_peer) {
                (Some(o), Some(p)) => format!("{:.2}×", o / p),
                _ => "–".to_string(),
            });
        }
        rows.push(row);
    }
    blocks.push(Block::Table { header, rows });
    if let Some(p) = peak {
        let mut text = format!(
            "Percentages are of the measured {dtype} peak on {thread_words}: {p:.1} GFLOP/s."
        );
        if above > 0 {
            text.push_str(&format!(
                " {ABOVE_PEAK} {} above it: {ABOVE_PEAK_WHY}.",
                count_of(above, "point")
            ));
        }
        blocks.push(Block::Para(text));
    }
    charts.push((stem, chart));
}

/// Training throughput: one chart per workload with the ANCHORS.md peers for reference.
fn train_section(
    families: &BTreeMap<(String, usize), Cell<'_>>,
    blocks: &mut Vec<Block>,
    charts: &mut Vec<(String, Chart)>,
) {
    let train: Vec<(usize, &Cell<'_>)> = families
        .iter()
        .filter(|((f, _), _)| f == "train")
        .map(|((_, t), c)| (*t, c))
        .collect();
    if train.is_empty() {
        return;
    }
    blocks.push(Block::Heading(
        2,
        "Training throughput (samples/s)".to_string(),
    ));
    blocks.push(Block::Para(format!(
        "Forward + backward + SGD update with softmax cross-entropy, after warm-up. Peer \
         figures are {PEER_LABEL}, not timed beside these runs: they show scale only, since \
         a machine's speed can drift between the two (crates/nn/README.md times depthlab and \
         the peers side by side)."
    )));
    let mut workloads: Vec<String> = train
        .iter()
        .flat_map(|(_, c)| c.keys().map(|k| k.1.clone()))
        .collect();
    workloads.sort();
    workloads.dedup();
    let threads: Vec<usize> = train.iter().map(|(t, _)| *t).collect();
    let impls = impl_order(
        train
            .iter()
            .flat_map(|(_, c)| c.keys().map(|k| k.0.clone())),
    );
    let mut rows = Vec::new();
    for w in &workloads {
        let rate = |imp: &str, t: usize| {
            train
                .iter()
                .find(|(tt, _)| *tt == t)
                .and_then(|(_, c)| c.get(&(imp.to_string(), w.clone())))
                .and_then(|b| b.rate())
        };
        let mut series: Vec<BarSeries> = impls
            .iter()
            .map(|imp| BarSeries {
                name: imp.clone(),
                values: threads.iter().map(|&t| rate(imp, t)).collect(),
                color: impl_color(imp),
                reference: false,
            })
            .collect();
        let peer_names: Vec<&str> = peers(w, 1).iter().map(|p| p.peer).collect();
        for (i, name) in peer_names.iter().enumerate() {
            series.push(BarSeries {
                name: format!("{name} (ref.)"),
                values: threads
                    .iter()
                    .map(|&t| {
                        peers(w, t)
                            .iter()
                            .find(|p| p.peer == *name)
                            .map(|p| p.samples_per_s)
                    })
                    .collect(),
                color: 3 + i,
                reference: true,
            });
        }
        let stem = format!("train_{w}");
        charts.push((
            stem.clone(),
            Chart::Bar(BarChart {
                title: format!("training {w}: samples/s"),
                x_desc: "thread count".to_string(),
                y_desc: "samples/s".to_string(),
                categories: threads
                    .iter()
                    .map(|t| format!("{t} thread{}", if *t == 1 { "" } else { "s" }))
                    .collect(),
                series,
                note: (!peer_names.is_empty()).then(|| format!("pale bars (ref.): {PEER_LABEL}")),
            }),
        ));
        blocks.push(Block::Figure {
            files: plot_files(&stem),
            title: format!("training {w}"),
            caption: None,
        });
        for &t in &threads {
            let ours = rate(OURS, t);
            let best = peers(w, t)
                .into_iter()
                .max_by(|a, b| a.samples_per_s.total_cmp(&b.samples_per_s));
            rows.push(vec![
                w.clone(),
                t.to_string(),
                ours.map_or("–".to_string(), |r| format!("{:.0}", r)),
                best.map_or("–".to_string(), |p| {
                    format!("{} {:.0}", p.peer, p.samples_per_s)
                }),
                match (ours, best) {
                    (Some(o), Some(p)) => format!("{:.2}×", o / p.samples_per_s),
                    _ => "–".to_string(),
                },
            ]);
        }
    }
    blocks.push(Block::Table {
        header: vec![
            "workload".into(),
            "threads".into(),
            "depthlab samples/s".into(),
            "best peer (ANCHORS.md, Intel Xeon)".into(),
            "ratio".into(),
        ],
        rows,
    });
}

/// GEMM sections in reading order: squares, layer products, then whole layers.
fn family_rank(family: &str) -> u8 {
    match family {
        "sgemm" => 0,
        "dgemm" => 1,
        "mlp" => 2,
        _ => 3,
    }
}

/// Builds the whole report.
pub(crate) fn build(
    benches: &[Benchmark],
    machine: &Machine,
    comparisons: &[Comparison],
    opts: &BenchReportOptions,
) -> Rendered {
    let mut blocks = Vec::new();
    let mut charts = Vec::new();
    let where_from = if machine.from_probe {
        "from the peak probe"
    } else {
        "of the machine writing this report (no --peak file given)"
    };
    let mut facts = vec![
        format!("CPU: {} ({where_from})", machine.cpu),
        format!("Logical cores: {}", machine.cores),
        format!("GEMM ISA: {}", machine.isa),
    ];
    match &machine.peak {
        Some(p) => {
            let get = |d: &str, t: usize| {
                p.gflops(d, t)
                    .map_or("–".to_string(), |g| format!("{g:.1}"))
            };
            facts.push(format!(
                "Measured FMA peak (best ISA probed), GFLOP/s: f32 {} (1T) / {} (2T); f64 {} (1T) / {} (2T)",
                get("f32", 1),
                get("f32", 2),
                get("f64", 1),
                get("f64", 2)
            ));
        }
        None => facts.push(
            "Measured peak: not given (`cargo run --release -p depthlab-gemm --example peak -- \
             --json > peak.json`, then `--peak peak.json`)"
                .to_string(),
        ),
    }
    let families = by_family(benches);
    let above: usize = families
        .iter()
        .map(|((f, t), cells)| count_above_peak(cells, family_peak(machine, f, *t)))
        .sum();
    if above > 0 {
        facts.push(format!(
            "**GEMM points above the probe's peak: {above}** (marked {ABOVE_PEAK}): \
             {ABOVE_PEAK_WHY}"
        ));
    }
    facts.push(format!(
        "Results: {} benchmarks from `{}`, report written {}",
        benches.len(),
        opts.criterion_dir.display(),
        today()
    ));
    if let Some(name) = &opts.baseline {
        facts.push(format!(
            "Baseline: `{name}` ({} benchmarks compared, noise band ±{:.0}%)",
            comparisons.len(),
            opts.noise * 100.0
        ));
    }
    blocks.push(Block::List(facts));
    if let Some(note) = &opts.note {
        blocks.push(Block::Para(format!("Note: {note}")));
    }

    if let Some(name) = &opts.baseline {
        blocks.push(Block::Heading(2, format!("Regressions against `{name}`")));
        let flagged: Vec<&Comparison> = comparisons
            .iter()
            .filter(|c| c.verdict == Verdict::Regression)
            .collect();
        if flagged.is_empty() {
            blocks.push(Block::Para(format!(
                "None beyond the ±{:.0}% noise band.",
                opts.noise * 100.0
            )));
        } else {
            blocks.push(Block::List(
                flagged
                    .iter()
                    .map(|c| {
                        format!(
                            "**{}**: {} slower (interval {} .. {})",
                            c.id,
                            fmt_pct(c.change),
                            fmt_pct(c.lower),
                            fmt_pct(c.upper)
                        )
                    })
                    .collect(),
            ));
        }
    }

    let gemm: Vec<_> = families
        .iter()
        .filter(|((f, _), _)| family_dtype(f).is_some())
        .collect();
    if !gemm.is_empty() {
        blocks.push(Block::Heading(2, "GEMM throughput".to_string()));
        blocks.push(Block::Para(
            "Rates are 2·m·n·k / time. `sgemm`/`dgemm`: square row-major products; `mlp`: a \
             Linear layer's products, `fwd_B×in×out` = X·Wᵀ and `wgrad_B×in×out` = dYᵀ·X; \
             `linear_fwd`/`linear_bwd`: a whole `Linear` forward (X·Wᵀ + b) and backward \
             (dW, db, dX; 4·B·in·out FLOPs counted). Cells show GFLOP/s and, with a peak \
             file, the share of the measured peak."
                .to_string(),
        ));
        // Square families first, then the layer shapes.
        let mut ordered = gemm.clone();
        ordered.sort_by_key(|((f, t), _)| (family_rank(f), f.clone(), *t));
        for ((family, threads), cells) in ordered {
            gemm_section(family, *threads, cells, machine, &mut blocks, &mut charts);
        }
    }
    train_section(&families, &mut blocks, &mut charts);

    blocks.push(Block::Heading(2, "All benchmarks".to_string()));
    blocks.push(Block::Table {
        header: vec![
            "benchmark".into(),
            "time (typical)".into(),
            "interval".into(),
            "throughput".into(),
        ],
        rows: benches
            .iter()
            .map(|b| {
                vec![
                    b.id(),
                    fmt_time(b.new.point),
                    format!("{} .. {}", fmt_time(b.new.lower), fmt_time(b.new.upper)),
                    b.rate()
                        .map_or("–".to_string(), |r| fmt_rate(r, throughput_unit(b))),
                ]
            })
            .collect(),
    });

    if let Some(name) = &opts.baseline {
        blocks.push(Block::Heading(2, format!("Against baseline `{name}`")));
        blocks.push(Block::Para(
            "Change of the time per iteration (positive = slower), with the interval from \
             criterion's confidence intervals of both runs; regressions first."
                .to_string(),
        ));
        let base_of = |id: &str| {
            benches
                .iter()
                .find(|b| b.id() == id)
                .and_then(|b| b.baseline.map(|e| (e.point, b.new.point)))
        };
        blocks.push(Block::Table {
            header: vec![
                "benchmark".into(),
                "baseline".into(),
                "new".into(),
                "change".into(),
                "interval".into(),
                "verdict".into(),
            ],
            rows: comparisons
                .iter()
                .map(|c| {
                    let (base, new) = base_of(&c.id).unwrap_or((f64::NAN, f64::NAN));
                    vec![
                        c.id.clone(),
                        fmt_time(base),
                        fmt_time(new),
                        fmt_pct(c.change),
                        format!("{} .. {}", fmt_pct(c.lower), fmt_pct(c.upper)),
                        c.verdict.label().to_string(),
                    ]
                })
                .collect(),
        });
        let missing = benches.iter().filter(|b| b.baseline.is_none()).count();
        if missing > 0 {
            blocks.push(Block::Para(format!(
                "{missing} benchmark(s) have no `{name}` baseline and are not compared."
            )));
        }
        // Criterion copies new/ into the baseline it saves: identical estimates mean the
        // benchmark has not run since, not that it kept its speed.
        let same = benches
            .iter()
            .filter(|b| b.baseline.as_ref() == Some(&b.new))
            .count();
        if same > 0 {
            blocks.push(Block::Para(format!(
                "{same} benchmark(s) hold the same estimates in `{name}` as in the latest run: \
                 they have not run since the baseline was saved, so their +0.0% is not a \
                 measurement."
            )));
        }
    }

    let document = Document {
        title: "depthlab benchmark report".to_string(),
        blocks,
    };
    Rendered {
        markdown: document.to_markdown(),
        html: document.to_html(&HTML_STYLE),
        charts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_sizes_parse_only_when_all_dimensions_agree() {
        assert_eq!(square_size("512x512x512"), Some(512));
        assert_eq!(square_size("128x784x512"), None);
        assert_eq!(square_size("fwd_32x2x64"), None);
    }

    #[test]
    fn units_scale() {
        assert_eq!(fmt_time(1500.0), "1.500 µs");
        assert_eq!(fmt_rate(2.5e9, "FLOP"), "2.500 GFLOP/s");
    }
}
