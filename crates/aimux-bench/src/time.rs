//! Civil time from Unix milliseconds (UTC), without a date library.

/// `(year, month, day, hour, minute, second, millisecond)` of a Unix time in ms (UTC).
pub fn civil(unix_ms: i64) -> (i64, u32, u32, u32, u32, u32, u32) {
    let ms = unix_ms.rem_euclid(1000) as u32;
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (y, m, d, sod / 3600, (sod / 60) % 60, sod % 60, ms)
}

/// `2026-11-27T10:59:55.052Z`
pub fn iso(unix_ms: i64) -> String {
    let (y, mo, d, h, mi, s, ms) = civil(unix_ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// `2026-11-27`
pub fn date(unix_ms: i64) -> String {
    let (y, mo, d, ..) = civil(unix_ms);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (what this crate writes and `--now` accepts).
pub fn parse_iso(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        std::str::from_utf8(b.get(r)?).ok()?.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = if b.len() >= 19 {
        (num(11..13)?, num(14..16)?, num(17..19)?)
    } else {
        (0, 0, 0)
    };
    let ms = if b.get(19) == Some(&b'.') {
        num(20..23).unwrap_or(0)
    } else {
        0
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2.rem_euclid(400);
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-27T10:59:55.052Z, from a real Claude Code record.
        assert_eq!(
            parse_iso("2026-11-27T10:59:55.052Z"),
            Some(1_795_777_195_052)
        );
        assert_eq!(iso(1_795_777_195_052), "2026-11-27T10:59:55.052Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for t in [0i64, 951_782_400_123, 1_795_777_195_052, 4_102_444_799_999] {
            assert_eq!(parse_iso(&iso(t)), Some(t));
        }
    }
}
