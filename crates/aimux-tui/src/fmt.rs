//! Small text formatters shared by the views: money, token counts, ages, truncation.

use chrono::{DateTime, Utc};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// `$0.00`, `$1.23`, `$123`, `?` for unknown.
pub fn cost(c: Option<f64>) -> String {
    // An empty f64 sum is -0.0; adding 0.0 turns it into 0.0 so it never prints "$-0.00".
    match c.map(|v| v + 0.0) {
        None => "?".into(),
        Some(v) if !v.is_finite() => "?".into(),
        Some(v) if v >= 1000.0 => format!("${v:.0}"),
        Some(v) if v > 0.0 && v < 0.01 => "<$0.01".into(),
        Some(v) => format!("${v:.2}"),
    }
}

/// Like [`cost`] with four decimals under a dollar (per-turn costs are often cents).
pub fn cost_precise(c: Option<f64>) -> String {
    match c {
        Some(v) if v.is_finite() && v > 0.0 && v < 1.0 => format!("${v:.4}"),
        other => cost(other),
    }
}

/// Compact token count: `812`, `12.3k`, `4.1M`.
pub fn tokens(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{:.1}k", n as f64 / 1000.0)
    } else if n < 1_000_000_000 {
        format!("{:.1}M", n as f64 / 1_000_000.0)
    } else {
        format!("{:.1}G", n as f64 / 1_000_000_000.0)
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Compact duration: `42s`, `5m`, `3h`, `2d`.
pub fn duration_secs(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// Age of an RFC 3339 timestamp relative to `now`; `-` when unknown.
pub fn age(ts: Option<&str>, now: DateTime<Utc>) -> String {
    ts.and_then(parse_time)
        .map(|t| duration_secs((now - t).num_seconds()))
        .unwrap_or_else(|| "-".into())
}

/// Seconds between two RFC 3339 timestamps, formatted with one decimal under a minute.
pub fn elapsed(start: Option<&str>, end: Option<&str>) -> Option<String> {
    let (a, b) = (parse_time(start?)?, parse_time(end?)?);
    let ms = (b - a).num_milliseconds();
    if ms < 0 {
        return None;
    }
    Some(if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        duration_secs(ms / 1000)
    })
}

/// `HH:MM:SS` of a timestamp (UTC), or `--:--:--`.
pub fn clock(ts: Option<&str>) -> String {
    ts.and_then(parse_time)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|| "--:--:--".into())
}

/// Cuts `s` to at most `width` columns, ending with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// Keeps the end of a path when it does not fit: `…/src/app`.
pub fn truncate_left(s: &str, width: usize) -> String {
    if s.width() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut used = 0;
    let mut start = chars.len();
    while start > 0 {
        let w = chars.get(start - 1).and_then(|c| c.width()).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        start -= 1;
    }
    let tail: String = chars.get(start..).unwrap_or_default().iter().collect();
    format!("…{tail}")
}

/// The first line of a text, whitespace collapsed.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces `$HOME` at the start of a path with `~`.
pub fn tilde(path: &str, home: Option<&str>) -> String {
    match home {
        Some(h) if !h.is_empty() && path.starts_with(h) => {
            let rest = &path[h.len()..];
            if rest.is_empty() || rest.starts_with('/') {
                format!("~{rest}")
            } else {
                path.to_string()
            }
        }
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_tokens() {
        assert_eq!(cost(None), "?");
        assert_eq!(cost(Some(0.0)), "$0.00");
        assert_eq!(cost(Some(0.004)), "<$0.01");
        assert_eq!(cost(Some(12.345)), "$12.35");
        assert_eq!(cost(Some(1234.0)), "$1234");
        assert_eq!(cost_precise(Some(0.0402)), "$0.0402");
        assert_eq!(cost_precise(Some(2.5)), "$2.50");
        assert_eq!(cost_precise(None), "?");
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(12_345), "12.3k");
        assert_eq!(tokens(4_100_000), "4.1M");
    }

    #[test]
    fn truncation_respects_width() {
        assert_eq!(truncate("hello world", 5), "hell…");
        assert_eq!(truncate("hi", 5), "hi");
        assert_eq!(truncate_left("/home/me/src/app", 8), "…src/app");
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
    }

    #[test]
    fn ages() {
        let now = parse_time("2026-11-27T10:00:00Z").expect("time");
        assert_eq!(age(Some("2026-11-27T09:59:18Z"), now), "42s");
        assert_eq!(age(Some("2026-11-27T07:00:00Z"), now), "3h");
        assert_eq!(age(None, now), "-");
        assert_eq!(
            elapsed(
                Some("2026-11-27T10:00:00Z"),
                Some("2026-11-27T10:00:04.250Z")
            )
            .as_deref(),
            Some("4.2s")
        );
        assert_eq!(tilde("/home/me/src", Some("/home/me")), "~/src");
        assert_eq!(tilde("/home/meow", Some("/home/me")), "/home/meow");
    }
}
