//! The results: a table with the ratios, and with `--json FILE` the JSON and an SVG chart.

use std::path::Path;

use crate::clients::Row;
use crate::speed::CONCURRENCY;

/// The client a row is judged against: Coffer (verifying its writes, as Stalwart's default
/// does) against rust-s3 followed by a HEAD on puts, everything else against plain rust-s3.
fn baseline(row: &Row) -> &'static str {
    match (row.client, row.case.starts_with("put")) {
        ("coffer-encrypted", _) => "coffer",
        ("coffer", true) => "rust-s3+verify",
        _ => "rust-s3",
    }
}

/// `row`'s ops/s divided by `client`'s in the same case.
fn ratio_to(rows: &[Row], row: &Row, client: &str) -> Option<f64> {
    let base = rows.iter().find(|r| r.case == row.case && r.client == client)?.ops_per_s;
    (base > 0.0).then(|| row.ops_per_s / base)
}

/// The clients every row is also compared with, each with its ratio's field in the JSON: rust-s3,
/// the ceiling, and the ceiling that checks every body as Coffer does.
const REFERENCES: [(&str, &str); 3] = [("rust-s3", "vs_rust_s3"), ("ceiling", "vs_ceiling"), ("ceiling+check", "vs_ceiling_check")];

/// A reference's column in the table: wide enough for its heading, and at least 10.
fn column_width(reference: &str) -> usize {
    (reference.len() + 2).max(10)
}

/// The table, with each client's ops/s as a ratio to its baseline and to each reference's.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!("{:<10} {:<16} {:>10} {:>9} {:>8} {:>8} {:>21}", "case", "client", "ops/s", "MiB/s", "p50 ms", "p99 ms", "/baseline");
    for (reference, _) in REFERENCES {
        out += &format!(" {:>w$}", format!("/{reference}"), w = column_width(reference));
    }
    out.push('\n');
    let shown = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
    for row in rows {
        out += &format!(
            "{:<10} {:<16} {:>10.1} {:>9.1} {:>8.2} {:>8.2} {:>21}",
            row.case,
            row.client,
            row.ops_per_s,
            row.mib_per_s,
            row.p50_ms,
            row.p99_ms,
            format!("{} {}", shown(ratio_to(rows, row, baseline(row))), baseline(row)),
        );
        for (reference, _) in REFERENCES {
            out += &format!(" {:>w$}", shown(ratio_to(rows, row, reference)), w = column_width(reference));
        }
        out.push('\n');
    }
    out
}

/// The results as a JSON array, and an SVG chart of ops/s relative to rust-s3 beside it.
pub fn write_json_and_chart(rows: &[Row], path: &Path) -> anyhow::Result<()> {
    let objects: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut object = format!(
                "  {{\"case\": \"{}\", \"client\": \"{}\", \"ops_per_s\": {:.3}, \"mib_per_s\": {:.3}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"baseline\": \"{}\", \"vs_baseline\": {}",
                r.case, r.client, r.ops_per_s, r.mib_per_s, r.p50_ms, r.p99_ms, baseline(r),
                json_ratio(ratio_to(rows, r, baseline(r)))
            );
            for (reference, field) in REFERENCES {
                object += &format!(", \"{field}\": {}", json_ratio(ratio_to(rows, r, reference)));
            }
            object + "}"
        })
        .collect();
    std::fs::write(path, format!("[\n{}\n]\n", objects.join(",\n")))?;
    std::fs::write(path.with_extension("svg"), chart(rows))?;
    Ok(())
}

fn json_ratio(ratio: Option<f64>) -> String {
    ratio.map_or("null".to_string(), |r| format!("{r:.3}"))
}

/// Grouped bars: for each case, each client's ops/s divided by rust-s3's (the line at 1.0).
fn chart(rows: &[Row]) -> String {
    let mut cases: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
    cases.dedup();
    let mut clients: Vec<&str> = rows.iter().map(|r| r.client).collect();
    clients.sort();
    clients.dedup();
    let colours = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"];
    let ratio = |case: &str, client: &str| {
        let of = |c: &str| rows.iter().find(|r| r.case == case && r.client == c).map(|r| r.ops_per_s);
        match (of(client), of("rust-s3")) {
            (Some(v), Some(base)) if base > 0.0 => v / base,
            _ => 0.0,
        }
    };
    let top = rows.iter().map(|r| ratio(&r.case, r.client)).fold(1.5f64, f64::max).ceil();
    let (width, height, left, bottom, top_pad) = (760.0, 360.0, 50.0, 60.0, 30.0);
    let plot_h = height - bottom - top_pad;
    let group_w = (width - left - 20.0) / cases.len() as f64;
    let bar_w = group_w * 0.8 / clients.len() as f64;
    let y = |v: f64| top_pad + plot_h * (1.0 - v / top);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <text x=\"{left}\" y=\"18\">ops/s relative to rust-s3 ({CONCURRENCY} concurrent)</text>\n"
    );
    for (g, case) in cases.iter().enumerate() {
        let x0 = left + g as f64 * group_w + group_w * 0.1;
        for (c, client) in clients.iter().enumerate() {
            let v = ratio(case, client);
            let x = x0 + c as f64 * bar_w;
            svg += &format!(
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{client}: {v:.2}x</title></rect>\n",
                y(v),
                bar_w * 0.9,
                (y(0.0) - y(v)).max(0.0),
                colours[c % colours.len()]
            );
        }
        svg += &format!("<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{case}</text>\n", x0 + group_w * 0.4, height - bottom + 18.0);
    }
    svg += &format!("<line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"4\"/>\n", width - 20.0, y(1.0), y(1.0));
    svg += &format!("<text x=\"4\" y=\"{:.1}\">1.0x</text>\n", y(1.0) + 4.0);
    let step = ((width - left) / clients.len() as f64).min(150.0);
    for (c, client) in clients.iter().enumerate() {
        let x = left + c as f64 * step;
        svg += &format!(
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{:.1}\">{client}</text>\n",
            height - 22.0,
            colours[c % colours.len()],
            x + 14.0,
            height - 13.0
        );
    }
    svg + "</svg>\n"
}
