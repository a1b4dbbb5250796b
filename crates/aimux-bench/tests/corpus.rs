//! The generator is deterministic, writes what it claims (checked against the real
//! aimux-core parsers), and spreads sessions over time, projects and sizes.

use aimux_bench::corpus::{Config, generate};
use aimux_bench::time::parse_iso;
use aimux_bench::{SessionTruth, Tokens};
use aimux_core::model::Provider;
use aimux_core::parsers::SessionFileParser;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

const NOW: &str = "2026-11-27T12:00:00.000Z";

fn config(out: &Path, size: u64, sessions: usize, seed: u64) -> Config {
    Config {
        out: out.to_path_buf(),
        size,
        sessions,
        seed,
        now_ms: parse_iso(NOW).unwrap_or_default(),
        threads: 2,
    }
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&p).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[test]
fn same_seed_is_byte_identical_and_another_seed_differs() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    let c = tempfile::tempdir().expect("tmp");
    let size = 2 << 20;
    generate(&config(a.path(), size, 20, 7)).expect("gen a");
    // One thread this time: the output must not depend on scheduling.
    let mut cb = config(b.path(), size, 20, 7);
    cb.threads = 1;
    generate(&cb).expect("gen b");
    generate(&config(c.path(), size, 20, 8)).expect("gen c");
    let (ta, tb, tc) = (tree(a.path()), tree(b.path()), tree(c.path()));
    assert!(
        ta.len() > 20,
        "expected 20 sessions + metadata, got {} files",
        ta.len()
    );
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
    for (k, v) in &ta {
        assert!(
            tb.get(k) == Some(v),
            "{k} differs between two runs with the same seed"
        );
    }
    assert_ne!(ta, tc, "a different seed produced the same corpus");
    let sessions = |t: &BTreeMap<String, Vec<u8>>| {
        t.keys()
            .filter(|k| k.ends_with(".jsonl") && k.starts_with('.'))
            .count()
    };
    assert_eq!(sessions(&ta), 20);
    assert_eq!(sessions(&tc), 20);
}

fn truth(dir: &Path) -> Vec<SessionTruth> {
    fs::read_to_string(dir.join("ground-truth.jsonl"))
        .expect("ground truth")
        .lines()
        .map(|l| serde_json::from_str(l).expect("truth line"))
        .collect()
}

#[test]
fn size_time_and_project_spread_are_realistic() {
    let d = tempfile::tempdir().expect("tmp");
    let size: u64 = 24 << 20;
    let s = generate(&config(d.path(), size, 300, 11)).expect("gen");
    let t = truth(d.path());
    assert_eq!(t.len(), 300);
    let on_disk: u64 = t
        .iter()
        .map(|x| fs::metadata(d.path().join(&x.path)).expect("file").len())
        .sum();
    assert_eq!(
        on_disk, s.bytes,
        "ground truth bytes disagree with the files"
    );
    let ratio = s.bytes as f64 / size as f64;
    assert!(
        (0.9..1.15).contains(&ratio),
        "wrote {} bytes for {size} requested",
        s.bytes
    );
    // skew: the largest session is many times the median
    let mut sizes: Vec<u64> = t.iter().map(|x| x.bytes).collect();
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    let max = *sizes.last().expect("sizes");
    assert!(max > 8 * median, "no long tail: median {median}, max {max}");
    // all three providers, several projects
    for p in ["claude", "codex", "gemini"] {
        assert!(
            t.iter().filter(|x| x.provider == p).count() >= 20,
            "too few {p} sessions"
        );
    }
    let projects: std::collections::BTreeSet<&str> = t.iter().map(|x| x.project.as_str()).collect();
    assert!(projects.len() >= 6, "only {} projects", projects.len());
    // timestamps: spread over ~90 days before NOW, some today, none after NOW
    let now = parse_iso(NOW).unwrap_or_default();
    let day = 86_400_000;
    let last: Vec<i64> = t
        .iter()
        .map(|x| parse_iso(&x.last_activity).expect("last_activity"))
        .collect();
    assert!(last.iter().all(|&l| l <= now));
    assert!(last.iter().any(|&l| now - l < day), "nothing today");
    assert!(
        last.iter().filter(|&&l| now - l < 7 * day).count() >= 10,
        "too little in 7 days"
    );
    assert!(
        last.iter().any(|&l| now - l > 60 * day),
        "nothing older than 60 days"
    );
    assert!(last.iter().all(|&l| now - l < 92 * day));
    // files carry their last activity as mtime
    let first = t.first().expect("one");
    let mtime = fs::metadata(d.path().join(&first.path))
        .and_then(|m| m.modified())
        .expect("mtime");
    let mtime_ms = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after epoch")
        .as_millis() as i64;
    assert!((mtime_ms - parse_iso(&first.last_activity).unwrap_or(0)).abs() < 5_000);
    // failures exist but are a minority
    let calls: u64 = t.iter().map(|x| x.tool_calls).sum();
    let failed: u64 = t.iter().map(|x| x.failed_tool_calls).sum();
    assert!(
        failed > 0 && failed * 5 < calls,
        "{failed} of {calls} tool calls failed"
    );
    // Claude cache tokens are there
    let claude: Tokens =
        t.iter()
            .filter(|x| x.provider == "claude")
            .fold(Tokens::default(), |mut a, x| {
                a.add(&x.tokens);
                a
            });
    assert!(claude.cache_read > claude.input && claude.cache_write > 0);
}

#[test]
fn parsers_agree_with_the_ground_truth() {
    let d = tempfile::tempdir().expect("tmp");
    generate(&config(d.path(), 6 << 20, 40, 3)).expect("gen");
    let mut problems = Vec::new();
    let mut zero_turn_providers = std::collections::BTreeSet::new();
    for t in truth(d.path()) {
        let provider = Provider::parse(&t.provider).expect("provider");
        let bytes = fs::read(d.path().join(&t.path)).expect("session file");
        let mut p = SessionFileParser::new(provider);
        // feed in two uneven pieces, as a growing file would be read
        let cut = bytes.len() / 3;
        p.feed(&bytes[..cut]);
        p.feed(&bytes[cut..]);
        let s = p.session();
        assert_eq!(p.stats.malformed, 0, "{}: malformed lines", t.path);
        if s.turns.is_empty() {
            zero_turn_providers.insert(t.provider.clone());
        }
        let got_tokens = s.tokens();
        let got = (
            s.turns.len() as u64,
            s.tool_calls() as u64,
            s.failed_tool_calls() as u64,
            got_tokens.input,
            got_tokens.output,
            got_tokens.cache_read,
            got_tokens.cache_write,
        );
        let want = (
            t.turns,
            t.tool_calls,
            t.failed_tool_calls,
            t.tokens.input,
            t.tokens.output,
            t.tokens.cache_read,
            t.tokens.cache_write,
        );
        if got != want || s.id.as_deref() != Some(t.session_id.as_str()) {
            problems.push(format!(
                "{} {}: parser (turns, tools, failed, in, out, cache_r, cache_w) = {got:?}, id {:?}; ground truth {want:?}, id {}; unknown records {}",
                t.provider, t.path, s.id, t.session_id, p.stats.unknown
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} sessions disagree (providers whose parser returned zero turns: {zero_turn_providers:?}):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn live_mode_appends_complete_records_at_about_the_rate() {
    use aimux_bench::live::{LiveConfig, run_live};
    let d = tempfile::tempdir().expect("tmp");
    let rate = 300_000u64;
    let r = run_live(&LiveConfig {
        out: d.path().to_path_buf(),
        sessions: 3,
        rate_bytes_per_sec: rate,
        duration: std::time::Duration::from_millis(800),
        seed: 5,
    })
    .expect("live");
    assert_eq!(r.files.len(), 3);
    // paced: not far above the rate (one line may overshoot), and it did write
    let cap = (rate as f64 * r.seconds) as u64 + 200_000;
    assert!(
        r.bytes > 0 && r.bytes <= cap,
        "{} bytes in {:.2}s",
        r.bytes,
        r.seconds
    );
    let mut on_disk = 0;
    for f in &r.files {
        let bytes = fs::read(d.path().join(f)).expect("live file");
        on_disk += bytes.len() as u64;
        assert!(bytes.ends_with(b"\n"), "{f}: torn last line");
        let provider = Provider::parse(f.split('/').next().unwrap_or("").trim_start_matches('.'))
            .expect("provider dir");
        let mut p = SessionFileParser::new(provider);
        p.feed(&bytes);
        assert_eq!(p.stats.malformed, 0, "{f}");
        assert!(p.stats.lines > 0);
    }
    assert_eq!(on_disk, r.bytes);
}
