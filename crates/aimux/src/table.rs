//! Plain-text tables for the headless commands.

/// Renders rows under a header, columns padded to their widest cell. Columns listed in
/// `right` are right-aligned (numbers).
pub fn render(header: &[&str], rows: &[Vec<String>], right: &[usize]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut parts = Vec::with_capacity(cells.len());
        for (i, cell) in cells.iter().enumerate() {
            let w = widths.get(i).copied().unwrap_or(0);
            let pad = w.saturating_sub(cell.chars().count());
            if right.contains(&i) {
                parts.push(format!("{}{}", " ".repeat(pad), cell));
            } else if i + 1 == cells.len() {
                parts.push((*cell).to_string());
            } else {
                parts.push(format!("{}{}", cell, " ".repeat(pad)));
            }
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

pub fn usd(cost: Option<f64>) -> String {
    match cost {
        Some(c) if c > 0.0 && c < 0.01 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
        None => "unknown".into(),
    }
}

pub fn tokens(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.2}M", n as f64 / 1e6),
    }
}
