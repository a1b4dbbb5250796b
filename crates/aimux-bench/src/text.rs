//! Synthetic text: prompts, prose, source code, command output; and JSON string escaping.

use crate::rng::Rng;
use std::fmt::{self, Write as _};

/// Displays a `&str` as a JSON string literal (with the quotes).
pub struct J<'a>(pub &'a str);

impl fmt::Display for J<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let s = self.0;
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: Option<&str> = match b {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0..=0x1f => None,
                _ => continue,
            };
            f.write_str(s.get(start..i).unwrap_or(""))?;
            match esc {
                Some(e) => f.write_str(e)?,
                None => write!(f, "\\u{:04x}", b)?,
            }
            start = i + 1;
        }
        f.write_str(s.get(start..).unwrap_or(""))?;
        f.write_char('"')
    }
}

/// JSON-escapes `s` (without quotes) into a new string: for JSON embedded in JSON strings.
pub fn json_string(s: &str) -> String {
    J(s).to_string()
}

const WORDS: &[&str] = &[
    "the",
    "a",
    "to",
    "and",
    "of",
    "in",
    "is",
    "it",
    "for",
    "that",
    "this",
    "with",
    "on",
    "we",
    "be",
    "not",
    "as",
    "can",
    "should",
    "when",
    "from",
    "by",
    "if",
    "but",
    "so",
    "then",
    "now",
    "function",
    "module",
    "test",
    "tests",
    "error",
    "handler",
    "request",
    "response",
    "config",
    "parser",
    "index",
    "cache",
    "token",
    "session",
    "file",
    "files",
    "line",
    "lines",
    "value",
    "field",
    "struct",
    "type",
    "trait",
    "method",
    "call",
    "return",
    "result",
    "option",
    "string",
    "buffer",
    "reader",
    "writer",
    "stream",
    "queue",
    "worker",
    "thread",
    "lock",
    "state",
    "event",
    "update",
    "create",
    "delete",
    "fix",
    "add",
    "remove",
    "rename",
    "refactor",
    "check",
    "build",
    "run",
    "failing",
    "passes",
    "slow",
    "fast",
    "memory",
    "leak",
    "timeout",
    "retry",
    "backoff",
    "client",
    "server",
    "endpoint",
    "route",
    "schema",
    "migration",
    "database",
    "query",
    "row",
    "column",
    "table",
    "key",
    "map",
    "list",
    "vector",
    "slice",
    "array",
    "loop",
    "branch",
    "commit",
    "diff",
    "patch",
    "merge",
    "rebase",
    "release",
    "version",
    "dependency",
    "crate",
    "package",
    "import",
    "export",
    "logging",
    "metrics",
    "trace",
    "span",
    "latency",
    "throughput",
    "user",
    "account",
    "billing",
    "invoice",
    "payment",
    "order",
    "cart",
    "search",
    "filter",
    "sort",
    "page",
    "limit",
    "offset",
    "cursor",
    "batch",
    "job",
    "scheduler",
    "cron",
    "deploy",
    "docker",
    "image",
    "container",
    "volume",
    "network",
    "port",
    "socket",
    "tls",
    "certificate",
    "auth",
    "login",
    "password",
    "hash",
    "secret",
    "env",
    "variable",
    "flag",
    "option",
    "default",
    "null",
    "empty",
    "missing",
    "invalid",
    "unexpected",
    "panic",
    "overflow",
    "boundary",
    "edge",
    "case",
    "regression",
    "benchmark",
    "profile",
    "allocation",
    "clone",
    "borrow",
    "lifetime",
    "async",
    "await",
    "future",
    "spawn",
    "channel",
    "select",
    "signal",
    "shutdown",
    "graceful",
    "unit",
    "integration",
    "fixture",
    "mock",
    "snapshot",
    "golden",
    "assert",
    "expect",
    "actual",
    "also",
    "maybe",
    "probably",
    "instead",
    "already",
    "still",
    "just",
    "only",
    "every",
    "each",
];

const IDENTS: &[&str] = &[
    "config", "state", "buf", "reader", "writer", "index", "cache", "session", "request", "resp",
    "handler", "client", "pool", "rows", "items", "count", "total", "offset", "limit", "cursor",
    "parser", "token", "entry", "path", "name", "value", "result", "err", "ctx", "opts",
];

const TYPES: &[&str] = &[
    "Config", "Session", "Request", "Response", "Handler", "Index", "Cache", "Parser", "Token",
    "Entry", "Client", "Pool", "Row", "Query", "Event", "State", "Error", "Builder", "Reader",
];

pub const DIRS: &[&str] = &[
    "src",
    "src/api",
    "src/db",
    "src/core",
    "src/util",
    "src/handlers",
    "tests",
    "lib",
    "crates/core/src",
    "crates/server/src",
    "internal/service",
    "pkg/store",
    "app/models",
];

pub const EXTS: &[&str] = &[
    "rs", "rs", "rs", "ts", "ts", "py", "go", "tsx", "toml", "md",
];

/// Appends about `n` bytes of word salad with sentences.
pub fn push_words(rng: &mut Rng, out: &mut String, n: usize) {
    let target = out.len() + n;
    let mut first = true;
    while out.len() < target {
        let w = *rng.pick(WORDS);
        if first {
            let mut c = w.chars();
            if let Some(h) = c.next() {
                out.push(h.to_ascii_uppercase());
                out.push_str(c.as_str());
            }
            first = false;
        } else {
            out.push(' ');
            out.push_str(w);
        }
        if rng.chance(0.08) {
            out.push_str(if rng.chance(0.8) { "." } else { "?" });
            if rng.chance(0.15) {
                out.push_str("\n\n");
            } else {
                out.push(' ');
            }
            first = true;
            if rng.chance(0.05) {
                let _ = write!(out, "`{}` ", rng.pick(IDENTS));
            }
        }
    }
    if !out.ends_with('.') {
        out.push('.');
    }
}

pub fn words(rng: &mut Rng, n: usize) -> String {
    let mut s = String::with_capacity(n + 16);
    push_words(rng, &mut s, n);
    s
}

/// A short one-line title, like Claude's `ai-title`.
pub fn title(rng: &mut Rng) -> String {
    let n = 2 + rng.index(5);
    let mut s = String::new();
    for i in 0..n {
        let w = *rng.pick(WORDS);
        if i == 0 {
            let mut c = w.chars();
            if let Some(h) = c.next() {
                s.push(h.to_ascii_uppercase());
                s.push_str(c.as_str());
            }
        } else {
            s.push(' ');
            s.push_str(w);
        }
    }
    s
}

/// One plausible line of source code.
pub fn push_code_line(rng: &mut Rng, out: &mut String) {
    let indent = rng.index(4) * 4;
    for _ in 0..indent {
        out.push(' ');
    }
    let a = rng.pick(IDENTS);
    let b = rng.pick(IDENTS);
    let t = rng.pick(TYPES);
    let _ = match rng.index(10) {
        0 => write!(out, "let {a} = {t}::new({b});"),
        1 => write!(out, "if {a}.is_empty() {{"),
        2 => write!(out, "}}"),
        3 => write!(out, "// {}", words(rng, 30).trim_end_matches('.')),
        4 => write!(out, "fn {a}_{b}(&self, {b}: &{t}) -> Result<{t}, Error> {{"),
        5 => write!(out, "self.{a}.insert({b}.clone(), {});", rng.below(1000)),
        6 => write!(
            out,
            "return Err(Error::{t}(format!(\"bad {b}: {{}}\", {a})));"
        ),
        7 => write!(out, "for {a} in {b}.iter() {{"),
        8 => write!(out, "{a}.{b} += {};", rng.below(64)),
        _ => write!(out, "use crate::{}::{t};", b),
    };
}

/// `cat -n`-style numbered source text of `lines` lines (what Claude's Read returns).
pub fn numbered_code(rng: &mut Rng, lines: usize) -> String {
    let mut s = String::with_capacity(lines * 48);
    for i in 1..=lines {
        let _ = write!(s, "{i:>6}\t");
        push_code_line(rng, &mut s);
        s.push('\n');
    }
    s
}

pub fn code(rng: &mut Rng, lines: usize) -> String {
    let mut s = String::with_capacity(lines * 40);
    for _ in 0..lines {
        push_code_line(rng, &mut s);
        s.push('\n');
    }
    s
}

/// A source path relative to the project root.
pub fn rel_path(rng: &mut Rng) -> String {
    format!(
        "{}/{}_{}.{}",
        rng.pick(DIRS),
        rng.pick(IDENTS),
        rng.pick(IDENTS),
        rng.pick(EXTS)
    )
}

/// Output of a test run or build: `lines` lines.
pub fn command_output(rng: &mut Rng, lines: usize) -> String {
    let mut s = String::with_capacity(lines * 60);
    for i in 0..lines {
        let _ = match rng.index(5) {
            0 => write!(
                s,
                "test {}::{}_{} ... ok",
                rng.pick(IDENTS),
                rng.pick(IDENTS),
                rng.pick(IDENTS)
            ),
            1 => write!(
                s,
                "   Compiling {}-{} v0.{}.{}",
                rng.pick(IDENTS),
                rng.pick(IDENTS),
                rng.below(20),
                rng.below(10)
            ),
            2 => write!(
                s,
                "{}:{}: {}",
                rel_path(rng),
                rng.range(1, 900),
                words(rng, 40)
            ),
            3 => write!(
                s,
                "-rw-r--r-- 1 dev dev {:>6} Nov {:>2} 1{}:{:02} {}",
                rng.below(90_000),
                rng.range(1, 28),
                rng.below(10),
                rng.below(60),
                rel_path(rng)
            ),
            _ => write!(s, "{}", words(rng, 50)),
        };
        if i + 1 < lines {
            s.push('\n');
        }
    }
    s
}

pub fn error_output(rng: &mut Rng) -> String {
    match rng.index(4) {
        0 => format!(
            "error[E0{}]: mismatched types\n  --> {}:{}:{}\n   |\n   = note: expected `{}`, found `{}`\n\nerror: could not compile due to 1 previous error",
            rng.range(100, 800),
            rel_path(rng),
            rng.range(1, 400),
            rng.range(1, 80),
            rng.pick(TYPES),
            rng.pick(TYPES)
        ),
        1 => format!(
            "thread 'main' panicked at {}:{}:{}:\ncalled `Option::unwrap()` on a `None` value\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\ntest result: FAILED. {} passed; 1 failed; 0 ignored",
            rel_path(rng),
            rng.range(1, 400),
            rng.range(1, 80),
            rng.range(3, 120)
        ),
        2 => format!("{}: No such file or directory", rel_path(rng)),
        _ => format!(
            "Traceback (most recent call last):\n  File \"{}\", line {}, in <module>\nKeyError: '{}'",
            rel_path(rng),
            rng.range(1, 300),
            rng.pick(IDENTS)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_serde_json() {
        for s in [
            "plain",
            "quote \" and \\ backslash",
            "new\nline\ttab\r",
            "ctl \u{1} \u{1f}",
            "unicode ├── — é",
        ] {
            let ours = J(s).to_string();
            let back: String = serde_json::from_str(&ours).unwrap_or_default();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn generated_text_has_roughly_the_requested_size() {
        let mut r = Rng::new(3);
        let w = words(&mut r, 500);
        assert!(w.len() >= 500 && w.len() < 600, "{}", w.len());
        let c = numbered_code(&mut r, 10);
        assert_eq!(c.lines().count(), 10);
    }
}
