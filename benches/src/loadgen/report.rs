//! Output: the console table, results.md, results.json and a hand-written SVG chart.

use super::run::{Report, SummaryRow, human, micros};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// UTC now as `YYYYMMDDTHHMMSSZ` (directory names sort by time).
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn ratio(r: Option<f64>) -> String {
    r.map(|x| format!("{x:.2}x")).unwrap_or_default()
}

/// The comparison table (Markdown, also printed to the console).
pub fn table(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| target | workload | client | req/s (median) | min-max | cmd/s | p50 | p99 (median) | p99 min-max | p99.9 | per-cmd p50 | client CPU/req | server CPU/req | errors | noisy | vs best peer (req/s, p99) |"
    );
    let _ = writeln!(
        s,
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in &report.summary {
        if let Some(note) = &r.note {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {note} | | | | | | | | | | {} | | |",
                r.target, r.workload, r.client, r.errors
            );
            continue;
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {}-{} | {} | {} | {} | {}-{} | {} | {} | {:.1}µs | {:.1}µs | {} | {}/{} | {} {} |",
            r.target,
            r.workload,
            r.client,
            human(r.req_per_s[0]),
            human(r.req_per_s[1]),
            human(r.req_per_s[2]),
            human(r.cmd_per_s),
            micros(r.p50_us),
            micros(r.p99_us[0]),
            micros(r.p99_us[1]),
            micros(r.p99_us[2]),
            micros(r.p999_us),
            micros(r.per_command_p50_us),
            r.client_cpu_us_per_req,
            r.server_cpu_us_per_req,
            r.errors,
            r.noisy_runs,
            r.runs,
            ratio(r.throughput_vs_best_peer),
            ratio(r.p99_vs_best_peer),
        );
    }
    s
}

/// The standalone-to-cluster headline (Markdown).
pub(super) fn headline_table(report: &Report) -> String {
    let mut workloads: Vec<&String> = report
        .headline
        .iter()
        .flat_map(|h| h.per_workload.keys())
        .collect();
    workloads.sort();
    workloads.dedup();
    let mut s = String::new();
    let _ = write!(s, "| client | cluster / standalone req/s (geomean) |");
    for w in &workloads {
        let _ = write!(s, " {w} |");
    }
    let _ = write!(s, "\n|---|--:|");
    for _ in &workloads {
        let _ = write!(s, "--:|");
    }
    s.push('\n');
    for h in &report.headline {
        let _ = write!(
            s,
            "| {} | {} |",
            h.client,
            h.geomean
                .map(|g| format!("{g:.2}x"))
                .unwrap_or_else(|| "n/a".into())
        );
        for w in &workloads {
            let _ = write!(
                s,
                " {} |",
                h.per_workload
                    .get(*w)
                    .map(|r| format!("{r:.2}x"))
                    .unwrap_or_default()
            );
        }
        s.push('\n');
    }
    s
}

fn redis_benchmark_table(report: &Report) -> String {
    let mut s = String::from(
        "| target | -P | test | cmd/s | p50 | p99 | max |\n|---|--:|---|--:|--:|--:|--:|\n",
    );
    for r in &report.redis_benchmark {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.pipeline,
            r.test,
            human(r.rps),
            micros(r.p50_us),
            micros(r.p99_us),
            micros(r.max_us)
        );
    }
    s
}

/// results.md: settings, how each client was used, the tables, notes.
pub fn markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# bench-cluster {}\n", report.started_utc);
    let _ = writeln!(s, "{} cores.", report.cores);
    let _ = writeln!(
        s,
        "Medians over the repeats; min-max is the range over the repeats."
    );
    let _ = writeln!(
        s,
        "Latencies are per request (one command or one pipeline); per-cmd p50 is the request latency divided by its commands."
    );
    let _ = writeln!(
        s,
        "CPU/req is CPU microseconds per request over the measured window (client: getrusage of this process; server: /proc/<pid>/stat)."
    );
    let _ = writeln!(
        s,
        "noisy n/m: in n of m repeats other processes used more than {:.0}% of the machine.",
        super::metrics::NOISY_SHARE * 100.0
    );
    let _ = writeln!(
        s,
        "vs best peer: slotmux's median over the best peer's median in the same run (req/s: higher is better; p99: lower is better).\n"
    );
    let _ = writeln!(s, "## Settings\n");
    for (k, v) in &report.settings {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n## How each client was used\n");
    for (k, v) in &report.usage {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n## Results\n\n{}", table(report));
    let _ = writeln!(s, "## Standalone to cluster\n\n{}", headline_table(report));
    if !report.redis_benchmark.is_empty() {
        let _ = writeln!(
            s,
            "## redis-benchmark (server-side reference)\n\n{}",
            redis_benchmark_table(report)
        );
    }
    if !report.notes.is_empty() {
        let _ = writeln!(s, "## Notes\n");
        for n in &report.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}

/// Reads one charted value (median, min, max) from a summary row.
type Metric = dyn Fn(&SummaryRow) -> [f64; 3];

const COLORS: [&str; 6] = [
    "#d6453d", "#3d7dd6", "#4aa05a", "#9b59b6", "#e09b2d", "#555555",
];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Grouped bar chart: throughput (top) and p99 (bottom) per (target, workload), one bar per client, min-max whiskers.
pub fn svg(report: &Report) -> String {
    let mut clients: Vec<String> = Vec::new();
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in &report.summary {
        if !clients.contains(&r.client) {
            clients.push(r.client.clone());
        }
        let g = (r.target.clone(), r.workload.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let find = |g: &(String, String), c: &str| -> Option<&SummaryRow> {
        report
            .summary
            .iter()
            .find(|r| r.target == g.0 && r.workload == g.1 && r.client == c && r.runs > 0)
    };
    // 20 px bars and 44 px between groups leave room for a label such as "mixed_10keys" under each group.
    let bar_w = 20.0;
    let group_w = bar_w * clients.len().max(1) as f64 + 44.0;
    let left = 70.0;
    let width = left + group_w * groups.len().max(1) as f64 + 20.0;
    let panel_h = 220.0;
    let top = 60.0;
    let gap = 90.0;
    let height = top + 2.0 * panel_h + 2.0 * gap;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="20" font-size="14" font-weight="bold">bench-cluster {}</text>"#,
        esc(&report.started_utc)
    );
    for (i, c) in clients.iter().enumerate() {
        let x = left + i as f64 * 110.0;
        let color = COLORS.get(i % COLORS.len()).copied().unwrap_or("#000");
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="32" width="12" height="12" fill="{color}"/><text x="{}" y="42">{}</text>"#,
            x + 16.0,
            esc(c)
        );
    }
    let panels: [(&str, &Metric); 2] = [
        (
            "requests/s (median, whisker = min-max over repeats)",
            &|r| r.req_per_s,
        ),
        (
            "p99 latency µs (median, whisker = min-max over repeats)",
            &|r| r.p99_us,
        ),
    ];
    for (p, (title, value)) in panels.iter().enumerate() {
        let y0 = top + p as f64 * (panel_h + gap) + 20.0;
        let base = y0 + panel_h;
        let max = groups
            .iter()
            .flat_map(|g| clients.iter().filter_map(move |c| find(g, c)))
            .map(|r| value(r)[2])
            .fold(0.0_f64, f64::max)
            .max(1e-9);
        let _ = writeln!(
            s,
            r#"<text x="{left}" y="{}" font-size="12" font-weight="bold">{}</text>"#,
            y0 - 6.0,
            esc(title)
        );
        for k in 0..=4 {
            let v = max * k as f64 / 4.0;
            let y = base - panel_h * k as f64 / 4.0;
            let _ = writeln!(
                s,
                r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                width - 20.0,
                left - 4.0,
                y + 4.0,
                human(v)
            );
        }
        for (gi, g) in groups.iter().enumerate() {
            let gx = left + gi as f64 * group_w + 22.0;
            for (ci, c) in clients.iter().enumerate() {
                let x = gx + ci as f64 * bar_w;
                let color = COLORS.get(ci % COLORS.len()).copied().unwrap_or("#000");
                match find(g, c) {
                    Some(r) => {
                        let [med, lo, hi] = value(r);
                        let h = panel_h * med / max;
                        let _ = writeln!(
                            s,
                            r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{color}"><title>{} {} {}: {}</title></rect>"#,
                            base - h,
                            bar_w - 2.0,
                            esc(c),
                            esc(&g.0),
                            esc(&g.1),
                            human(med)
                        );
                        let cx = x + (bar_w - 2.0) / 2.0;
                        let _ = writeln!(
                            s,
                            r#"<line x1="{cx:.1}" y1="{:.1}" x2="{cx:.1}" y2="{:.1}" stroke="black"/>"#,
                            base - panel_h * lo / max,
                            base - panel_h * hi / max
                        );
                    }
                    None => {
                        let _ = writeln!(
                            s,
                            r##"<text x="{:.1}" y="{:.1}" font-size="9" fill="#888">n/a</text>"##,
                            x,
                            base - 4.0
                        );
                    }
                }
            }
            let lx = gx + bar_w * clients.len() as f64 / 2.0;
            let _ = writeln!(
                s,
                r##"<text x="{lx:.1}" y="{:.1}" text-anchor="middle">{}</text><text x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="#666">{}</text>"##,
                base + 14.0,
                esc(&g.1),
                base + 27.0,
                esc(&g.0)
            );
        }
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{base}" x2="{:.1}" y2="{base}" stroke="black"/>"#,
            width - 20.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The files a run wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// The run's directory.
    pub dir: PathBuf,
    /// results.json
    pub json: PathBuf,
    /// results.md
    pub markdown: PathBuf,
    /// chart.svg
    pub svg: PathBuf,
}

/// Writes results.json, results.md and chart.svg into `root/<started_utc>/`.
pub fn write(report: &Report, root: &Path) -> std::io::Result<Written> {
    let dir = root.join(&report.started_utc);
    std::fs::create_dir_all(&dir)?;
    let json = dir.join("results.json");
    let markdown_path = dir.join("results.md");
    let svg_path = dir.join("chart.svg");
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(&json, text)?;
    std::fs::write(&markdown_path, markdown(report))?;
    std::fs::write(&svg_path, svg(report))?;
    Ok(Written {
        dir,
        json,
        markdown: markdown_path,
        svg: svg_path,
    })
}
