//! End-to-end tests of the dashboard: the real `aimux` binary runs in a private tmux server
//! (its own socket, killed when the test ends), keys go in with `send-keys`, the screen comes
//! back with `capture-pane`. Every wait polls the screen with a timeout; nothing sleeps long.
//!
//! * sessions → sort → filter → trace → label GOOD + note → quit, over a scratch copy of the
//!   real-CLI fixtures; the annotation file and `aimux trace --json` must hold the label;
//! * kill from the agents view, over two real agent CLIs idling in tmux
//!   (`testkit/agents_env.py`): cancel kills nothing, confirm ends that agent only;
//! * resize 160x48 → 80x24 → 160x48 redraws a whole frame each time;
//! * `NO_COLOR=1` leaves no colour in the table body.
//!
//! Each test prints `SKIPPED <test>: <reason>` and passes when tmux (or, for the kill test,
//! python3 and the agent CLIs) is missing.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for one wait on the screen (the machine is small and busy).
const TIMEOUT: Duration = Duration::from_secs(25);
const PROMPT: &str = "aimux-e2e$";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn aimux_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("aimux")
}

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have_tmux(test: &str) -> bool {
    if runs("tmux", "-V") {
        return true;
    }
    println!("SKIPPED {test}: tmux is not installed");
    false
}

/// Single-quotes a word for the shell in the pane.
fn shq(s: impl AsRef<std::ffi::OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

// ------------------------------------------------------------------------------ tmux

/// A private tmux server with one window running a plain shell; killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
        };
        // A shell with a known prompt: after the dashboard quits we must see it again.
        let shell = format!("env PS1='{PROMPT} ' HISTFILE=/dev/null bash --norc --noprofile");
        let (w, h) = (width.to_string(), height.to_string());
        tmux.ok(&["new-session", "-d", "-s", "e2e", "-x", &w, "-y", &h, &shell]);
        tmux.wait_for("the shell prompt", |s| last_line(s) == PROMPT);
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("run tmux")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Key names (`Enter`, `Escape`, `C-c`, …).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.ok(&args);
    }

    /// Literal text.
    fn text(&self, text: &str) {
        self.ok(&["send-keys", "-t", "e2e", "-l", text]);
    }

    /// Types a command line into the shell and runs it.
    fn run_line(&self, line: &str) {
        self.text(line);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-t", "e2e"])
    }

    fn screen_escapes(&self) -> String {
        self.ok(&["capture-pane", "-p", "-e", "-t", "e2e"])
    }

    fn display(&self, format: &str) -> String {
        self.ok(&["display-message", "-p", "-t", "e2e", format])
            .trim()
            .to_string()
    }

    fn resize(&self, width: u16, height: u16) {
        let (w, h) = (width.to_string(), height.to_string());
        self.ok(&["resize-window", "-t", "e2e", "-x", &w, "-y", &h]);
    }

    /// Polls the screen until `ok` holds on two captures in a row that are the same (a
    /// capture can land in the middle of a redraw); panics with the last screen after
    /// [`TIMEOUT`].
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        let mut previous = String::new();
        loop {
            let screen = self.screen();
            if screen == previous && ok(&screen) {
                return screen;
            }
            if start.elapsed() > TIMEOUT {
                panic!("timed out waiting for {what}; the screen:\n{screen}");
            }
            previous = screen;
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Starts the dashboard from the shell (`env_prefix` goes before the binary) and waits
    /// for its first frame. `stty -a` runs right after it exits, before the shell's line
    /// editor touches the terminal, so the test sees the mode aimux left behind.
    fn open_dashboard(&self, env_prefix: &str, home: &Path, aimux_home: &Path, stty_out: &Path) {
        self.run_line(&format!(
            "{env_prefix} {} --home {} --aimux-home {}; stty -a > {}",
            shq(aimux_bin()),
            shq(home),
            shq(aimux_home),
            shq(stty_out)
        ));
        self.wait_for("the dashboard", |s| {
            s.starts_with(" aimux ") && s.contains("q quit")
        });
        assert_eq!(
            self.display("#{alternate_on}"),
            "1",
            "dashboard not on the alternate screen"
        );
    }

    fn command(&self, cmd: &str) {
        self.text(":");
        self.text(cmd);
        self.keys(&["Enter"]);
    }

    /// After quitting: the shell prompt is back, the alternate screen, mouse reporting and
    /// raw mode are off and the cursor is visible.
    fn assert_restored(&self, stty_out: &Path) {
        self.wait_for("the shell prompt after quitting", |s| {
            last_line(s) == PROMPT
        });
        assert_eq!(
            self.display("#{alternate_on}"),
            "0",
            "alternate screen left on"
        );
        assert_eq!(self.display("#{pane_current_command}"), "bash");
        assert_eq!(self.display("#{cursor_flag}"), "1", "cursor left hidden");
        assert_eq!(
            self.display("#{mouse_any_flag}"),
            "0",
            "mouse reporting left on"
        );
        let stty = wait_file(stty_out);
        let flags: Vec<&str> = stty.split_whitespace().collect();
        for flag in ["icanon", "echo", "icrnl", "opost"] {
            assert!(
                flags.contains(&flag),
                "terminal left in raw mode ({flag} missing): {stty}"
            );
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn wait_file(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && !text.trim().is_empty()
        {
            return text;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn last_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

// ------------------------------------------------------------------------ the screen

/// The table inside the main box: the header line (holding `first_col`) and the non-blank
/// rows under it, side borders removed; empty when there is no such table. Never panics
/// (it runs inside screen polls).
fn table(screen: &str, first_col: &str) -> (String, Vec<String>) {
    let inner = |l: &str| -> String {
        let l = l.trim_end();
        let l = l.strip_prefix('│').unwrap_or(l);
        l.strip_suffix('│').unwrap_or(l).to_string()
    };
    let mut lines = screen.lines();
    let Some(header) = lines
        .by_ref()
        .find(|l| l.starts_with('│') && inner(l).trim_start().starts_with(first_col))
        .map(inner)
    else {
        return (String::new(), Vec::new());
    };
    let rows = lines
        .take_while(|l| l.starts_with('│'))
        .map(inner)
        .filter(|r| !r.trim().is_empty())
        .collect();
    (header, rows)
}

/// One sessions row as shown: (title cell, provider, turns).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shown {
    title: String,
    provider: String,
    /// None where the layout has no TURNS column (narrow terminals).
    turns: Option<u64>,
}

fn sessions_on_screen(screen: &str) -> Vec<Shown> {
    let (header, rows) = table(screen, "TITLE");
    let Some(byte) = header.find("PROVIDER") else {
        return Vec::new();
    };
    let provider_col = header[..byte].chars().count();
    let names: Vec<&str> = header.split_whitespace().collect();
    // Fields are counted from PROVIDER on (titles may hold spaces, the other cells do not).
    let turns_field = names
        .iter()
        .position(|n| *n == "TURNS")
        .and_then(|i| i.checked_sub(1));
    rows.iter()
        .map(|r| {
            let chars: Vec<char> = r.chars().collect();
            let title: String = chars.iter().take(provider_col).collect();
            let rest: String = chars.iter().skip(provider_col).collect();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Shown {
                title: title.trim().to_string(),
                provider: fields.first().unwrap_or(&"").to_string(),
                // A cell that is not a number shows up as a mismatch in the comparisons.
                turns: turns_field.map(|i| {
                    fields
                        .get(i)
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(u64::MAX)
                }),
            }
        })
        .collect()
}

/// Whether a row on the screen shows this row of `aimux sessions --json`: same provider
/// and turns, and as title the row's title (whitespace folded, possibly cut with `…`) or,
/// for a session without one, its id's first 8 characters in parentheses.
fn shows(s: &Shown, row: &Value) -> bool {
    let id = row["id"].as_str().unwrap_or_default();
    let short = format!("({})", id.chars().take(8).collect::<String>());
    let title = row["title"]
        .as_str()
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty());
    let title_ok = s.title == short
        || title.as_deref().is_some_and(|t| {
            s.title == t
                || s.title
                    .strip_suffix('…')
                    .is_some_and(|cut| !cut.is_empty() && t.starts_with(cut))
        });
    title_ok
        && row["provider"].as_str() == Some(s.provider.as_str())
        && s.turns.is_none_or(|n| row["turns"].as_u64() == Some(n))
}

/// `screen` lists the same rows as `rows` (in the CLI's order), allowing any order among
/// rows whose sort key is equal (the CLI and the dashboard break ties differently).
fn assert_same_order(screen: &[Shown], rows: &[Value], key: &str, what: &str) {
    assert_eq!(
        screen.len(),
        rows.len(),
        "{what}: row count differs\nscreen: {screen:#?}"
    );
    let mut i = 0;
    while i < rows.len() {
        let k = &rows[i][key];
        let j = rows[i..]
            .iter()
            .position(|r| &r[key] != k)
            .map_or(rows.len(), |p| i + p);
        // Match the screen rows i..j to the CLI rows i..j one to one.
        let mut unused: Vec<&Value> = rows[i..j].iter().collect();
        for s in &screen[i..j] {
            let Some(p) = unused.iter().position(|r| shows(s, r)) else {
                panic!(
                    "{what}: screen row {s:?} is not among the CLI's rows {i}..{j} ({key} = {k}):\n{:#?}\nscreen: {screen:#?}",
                    &rows[i..j]
                );
            };
            unused.remove(p);
        }
        i = j;
    }
}

fn aimux_json(home: &Path, aimux_home: &Path, args: &[&str]) -> Value {
    let out = Command::new(aimux_bin())
        .env_remove("NO_COLOR")
        .arg("--home")
        .arg(home)
        .arg("--aimux-home")
        .arg(aimux_home)
        .args(args)
        .output()
        .expect("run aimux");
    assert!(
        out.status.success(),
        "aimux {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn sessions_json(home: &Path, aimux_home: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["sessions", "--json"];
    all.extend_from_slice(args);
    aimux_json(home, aimux_home, &all)["sessions"]
        .as_array()
        .expect("sessions array")
        .clone()
}

/// A scratch copy of the real-CLI fixtures and a scratch aimux home.
fn fixture_home(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    copy_dir(&workspace().join("tests/fixtures/home"), &home);
    let aimux_home = dir.join("aimux-home");
    std::fs::create_dir_all(&aimux_home).expect("aimux home");
    (home, aimux_home)
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("aimux-e2e-tui-")
        .tempdir()
        .expect("tempdir")
}

fn sort_label(screen: &str) -> String {
    screen
        .lines()
        .nth(1)
        .and_then(|l| l.split("sort: ").nth(1))
        .map(|s| s.trim_end_matches(['╮', ' ', '─']).to_string())
        .unwrap_or_default()
}

// ------------------------------------------------------------------------------ tests

#[test]
fn sessions_sort_filter_trace_annotate_quit() {
    if !have_tmux("sessions_sort_filter_trace_annotate_quit") {
        return;
    }
    let dir = scratch();
    let (home, aimux_home) = fixture_home(dir.path());
    let by = |sort: &str| sessions_json(&home, &aimux_home, &["--sort", sort]);
    let (recent, cost, age, turns) = (by("recent"), by("cost"), by("age"), by("turns"));
    let total = recent.len();
    assert!(total > 3, "the fixtures hold too few sessions ({total})");
    let claude_by_cost = sessions_json(
        &home,
        &aimux_home,
        &["--sort", "cost", "--provider", "claude"],
    );
    assert!(!claude_by_cost.is_empty() && claude_by_cost.len() < total);
    // The trace opened below is the top row by cost.
    let target = cost[0]["id"].as_str().expect("id").to_string();
    let before = aimux_json(&home, &aimux_home, &["trace", &target, "--json"]);
    let turn2 = before["turns"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["number"] == 2))
        .unwrap_or_else(|| panic!("the most expensive claude session has no turn #2: {before}"));
    let turn2_id = turn2["id"].as_str().expect("turn id").to_string();

    let tmux = Tmux::start(dir.path(), 160, 48);
    let stty = dir.path().join("stty.txt");
    tmux.open_dashboard("env -u NO_COLOR", &home, &aimux_home, &stty);

    // The sessions view, newest activity first.
    tmux.command("sessions");
    let heading = format!("Sessions ({total})");
    let screen = tmux.wait_for("the sessions list", |s| {
        s.contains(&heading) && sessions_on_screen(s).len() == total
    });
    assert_eq!(sort_label(&screen), "recent");
    let shown_recent = sessions_on_screen(&screen);
    assert_same_order(&shown_recent, &recent, "last_activity", "sort recent");

    // `s` cycles: cost → age → turns → title → recent → cost.
    let sorted = |label: &str| -> Vec<Shown> {
        tmux.text("s");
        let screen = tmux.wait_for(&format!("sort {label}"), |s| sort_label(s) == label);
        sessions_on_screen(&screen)
    };
    let shown_cost = sorted("cost ↓");
    assert_same_order(&shown_cost, &cost, "cost_usd", "sort cost");
    assert_ne!(
        shown_cost, shown_recent,
        "sorting by cost did not change the order"
    );
    let shown_age = sorted("age ↓");
    assert_same_order(&shown_age, &age, "started_at", "sort age");
    let shown_turns = sorted("turns ↓");
    assert_same_order(&shown_turns, &turns, "turns", "sort turns");
    let shown_title = sorted("title");
    let mut titles: Vec<String> = shown_title.iter().map(|s| s.title.to_lowercase()).collect();
    let unsorted = titles.clone();
    titles.sort();
    assert_eq!(unsorted, titles, "sort title is not alphabetical");
    assert_eq!(
        sorted("recent"),
        shown_recent,
        "the sort cycle does not come back to recent"
    );
    assert_eq!(sorted("cost ↓"), shown_cost);

    // Filter on a provider: as you type, only its rows remain, still by cost.
    tmux.text("/claude");
    let filtered = format!("Sessions ({}/{total}) /claude", claude_by_cost.len());
    let screen = tmux.wait_for("the filtered list", |s| s.contains(&filtered));
    let shown = sessions_on_screen(&screen);
    assert!(shown.iter().all(|s| s.provider == "claude"), "{shown:#?}");
    assert_same_order(&shown, &claude_by_cost, "cost_usd", "filter claude");
    // In this view Enter would start a full-text search instead of keeping the filter
    // (the history feature), so esc: the filter goes, every row comes back.
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for("the unfiltered list", |s| {
        s.contains(&heading) && !s.contains("/claude")
    });
    assert_eq!(
        sessions_on_screen(&screen),
        shown_cost,
        "esc did not bring back the list"
    );

    // Enter opens the trace of the top row.
    tmux.text("g");
    tmux.keys(&["Enter"]);
    let title = format!("Trace {}", &target[..8]);
    tmux.wait_for("the trace", |s| {
        s.contains(&title) && s.contains(&target) && s.contains("#2 ")
    });

    // Turn #2: label GOOD, then a note on it.
    tmux.text("g");
    tmux.text("n");
    tmux.text("a");
    tmux.wait_for("turn #2 labelled GOOD", |s| {
        s.lines().any(|l| l.contains("#2 ") && l.contains("[GOOD]"))
    });
    tmux.text("N");
    tmux.wait_for("the note popup", |s| {
        s.contains("Note on turn #2") && s.contains("[GOOD]")
    });
    let note = "e2e: right tool, terse answer";
    tmux.text(note);
    tmux.wait_for("the typed note", |s| s.contains(note));
    // Save and quit at once: what was saved must not be lost on the way out.
    tmux.keys(&["Enter", ":", "q", "Enter"]);
    tmux.assert_restored(&stty);

    // The annotation file: the last word on turn #2 is GOOD with the note; nothing else.
    let file = aimux_home
        .join("evaluations")
        .join(format!("{target}.jsonl"));
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (annotation lost on quit?)", file.display()));
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("annotation line is JSON"))
        .collect();
    let mut last: BTreeMap<String, &Value> = BTreeMap::new();
    for r in &records {
        last.insert(r["turn_id"].as_str().expect("turn_id").to_string(), r);
    }
    assert_eq!(last.keys().collect::<Vec<_>>(), vec![&turn2_id], "{text}");
    let rec = last[&turn2_id];
    assert_eq!(rec["label"], "good", "{text}");
    assert_eq!(rec["note"], note, "{text}");
    assert_eq!(rec["turn"], 2, "{text}");

    // The headless trace shows it on that turn and only there.
    let after = aimux_json(&home, &aimux_home, &["trace", &target, "--json"]);
    for t in after["turns"].as_array().expect("turns") {
        if t["id"] == turn2_id.as_str() {
            assert_eq!(t["annotation"]["label"], "good", "{t}");
            assert_eq!(t["annotation"]["note"], note, "{t}");
        } else {
            assert!(t["annotation"].is_null(), "unexpected annotation: {t}");
        }
    }
    let listed = sessions_json(&home, &aimux_home, &["--provider", "claude"]);
    let row = listed
        .iter()
        .find(|r| r["id"] == target.as_str())
        .expect("session listed");
    assert_eq!(row["annotations"]["good"], 1, "{row}");
}

#[test]
fn resize_redraws_whole_frames() {
    if !have_tmux("resize_redraws_whole_frames") {
        return;
    }
    let dir = scratch();
    let (home, aimux_home) = fixture_home(dir.path());
    let total = sessions_json(&home, &aimux_home, &[]).len();
    let tmux = Tmux::start(dir.path(), 160, 48);
    let stty = dir.path().join("stty.txt");
    tmux.open_dashboard("env -u NO_COLOR", &home, &aimux_home, &stty);
    tmux.command("sessions");
    let heading = format!("Sessions ({total})");

    // A whole frame at w x h: header line, a closed box whose side borders sit at the
    // last column, all rows that fit, and the key footer on the last line.
    let frame_ok = |w: usize, h: usize, wide: bool| {
        let heading = heading.clone();
        move |s: &str| -> bool {
            let lines: Vec<&str> = s.lines().collect();
            if lines.len() != h {
                return false;
            }
            let width = |l: &str| l.trim_end().chars().count();
            let Some(bottom) = lines.iter().rposition(|l| l.starts_with('╰')) else {
                return false;
            };
            let boxed = lines.get(1..=bottom).unwrap_or(&[]);
            let rows = sessions_on_screen(s);
            lines[0].starts_with(" aimux ")
                && lines[1].starts_with(&format!("╭ {heading}"))
                && lines[1].trim_end().ends_with('╮')
                && boxed.iter().all(|l| width(l) == w)
                && boxed[1..boxed.len() - 1].iter().all(|l| {
                    l.starts_with('│') && l.trim_end().ends_with('│')
                })
                && lines[bottom].trim_end().ends_with('╯')
                && lines[h - 1].contains("q quit")
                // as many rows as fit: the body is h - 5 lines (top line, borders, column names, footer)
                && rows.len() == total.min(h - 5)
                && rows.iter().all(|r| ["claude", "codex", "gemini", "opencode"].contains(&r.provider.as_str()))
                && (!wide || rows.iter().all(|r| r.turns.is_some()))
        }
    };
    let wide = tmux.wait_for("the sessions list at 160x48", frame_ok(160, 48, true));
    tmux.resize(80, 24);
    let narrow = tmux.wait_for("a whole frame at 80x24", frame_ok(80, 24, false));
    tmux.resize(160, 48);
    let again = tmux.wait_for("a whole frame at 160x48 again", frame_ok(160, 48, true));
    // Nothing of the narrow layout is left over: the same rows as before, cell for cell
    // (ages aside), and the narrow frame showed the same sessions in the same order.
    let (before, after) = (sessions_on_screen(&wide), sessions_on_screen(&again));
    assert_eq!(
        after, before,
        "the table differs after resizing back:\n{again}"
    );
    let providers = |rows: &[Shown]| rows.iter().map(|r| r.provider.clone()).collect::<Vec<_>>();
    assert_eq!(
        providers(&sessions_on_screen(&narrow)),
        providers(&before),
        "{narrow}"
    );
    tmux.text("q");
    tmux.assert_restored(&stty);
}

/// SGR parameters that set a colour (30–38, 40–48, 90–97, 100–107; 39/49 are "default").
fn colour_sgr(screen: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = screen;
    while let Some(i) = rest.find("\x1b[") {
        rest = &rest[i + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == ';' || c == ':'))
            .unwrap_or(rest.len());
        let (params, tail) = rest.split_at(end);
        if tail.starts_with('m') {
            for p in params.split([';', ':']) {
                let n: u32 = p.parse().unwrap_or(0);
                let colour = matches!(n, 30..=37 | 40..=47 | 90..=97 | 100..=107);
                if colour || n == 38 || n == 48 {
                    found.push(format!("\\e[{params}m"));
                    break;
                }
            }
        }
        rest = tail;
    }
    found
}

#[test]
fn no_color_leaves_no_colour_in_the_table() {
    if !have_tmux("no_color_leaves_no_colour_in_the_table") {
        return;
    }
    let dir = scratch();
    let (home, aimux_home) = fixture_home(dir.path());
    let total = sessions_json(&home, &aimux_home, &[]).len();
    let heading = format!("Sessions ({total})");
    let tmux = Tmux::start(dir.path(), 160, 48);
    let body = |tmux: &Tmux| -> String {
        tmux.command("sessions");
        tmux.wait_for("the sessions list", |s| {
            s.contains(&heading) && sessions_on_screen(s).len() == total
        });
        let screen = tmux.screen_escapes();
        let lines: Vec<&str> = screen.lines().collect();
        let top = lines.iter().position(|l| l.contains("╭")).expect("box top");
        let bottom = lines
            .iter()
            .rposition(|l| l.contains("╰"))
            .expect("box bottom");
        lines[top + 1..bottom].join("\n")
    };
    for (prefix, name) in [
        ("env -u NO_COLOR", "colour"),
        ("env NO_COLOR=1", "no-colour"),
    ] {
        let stty = dir.path().join(format!("stty-{name}.txt"));
        tmux.run_line("clear");
        tmux.open_dashboard(prefix, &home, &aimux_home, &stty);
        let table = body(&tmux);
        let colours = colour_sgr(&table);
        if name == "colour" {
            // The check can see colours: without NO_COLOR the same table has some.
            assert!(
                !colours.is_empty(),
                "no colour found even without NO_COLOR:\n{table}"
            );
        } else {
            assert!(
                colours.is_empty(),
                "NO_COLOR=1 but the table has colours {colours:?}:\n{table}"
            );
        }
        tmux.text("q");
        tmux.assert_restored(&stty);
    }
}

// ---------------------------------------------------------------- kill from the UI

/// Two real agent CLIs idling in their own tmux (testkit/agents_env.py); stopped on drop.
struct Agents {
    state: PathBuf,
    info: Value,
}

impl Agents {
    fn start(state: &Path, providers: &str) -> Result<Agents, String> {
        let out = Command::new("python3")
            .arg(workspace().join("testkit/agents_env.py"))
            .args(["start", "--state"])
            .arg(state)
            .args([
                "--providers",
                providers,
                "--ttl",
                "240",
                "--ready-timeout",
                "60",
            ])
            .args(["--owner-pid", &std::process::id().to_string()])
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| e.to_string())?;
        // From here on `stop` runs on drop, whatever happens next.
        let mut agents = Agents {
            state: state.to_path_buf(),
            info: Value::Null,
        };
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        agents.info = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok(agents)
    }

    fn pid(&self, provider: &str) -> u32 {
        self.info["pane_pids"][provider]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or_else(|| panic!("no pid for {provider}: {}", self.info))
    }
}

impl Drop for Agents {
    fn drop(&mut self) {
        let _ = Command::new("python3")
            .arg(workspace().join("testkit/agents_env.py"))
            .arg("stop")
            .arg(&self.state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Running (a zombie counts as gone: it has ended and waits for its parent).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        for e in entries.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{child}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(") ")
                        .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string))
                })
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(p) {
                out.push(child);
                todo.push(child);
            }
        }
    }
    out
}

#[test]
fn kill_from_the_agents_view_ends_only_the_chosen_agent() {
    let test = "kill_from_the_agents_view_ends_only_the_chosen_agent";
    if !have_tmux(test) {
        return;
    }
    if !runs("python3", "-V") {
        println!("SKIPPED {test}: python3 is not installed");
        return;
    }
    let prefix = std::env::var_os("AIMUX_AGENTS_PREFIX")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/aimux-agents")))
        .unwrap_or_default();
    for cli in ["claude", "codex"] {
        if !prefix.join("node_modules/.bin").join(cli).exists() {
            println!(
                "SKIPPED {test}: the {cli} CLI is not installed under {}",
                prefix.display()
            );
            return;
        }
    }
    let dir = scratch();
    let agents = Agents::start(&dir.path().join("env"), "claude,codex")
        .unwrap_or_else(|e| panic!("agents_env.py start failed: {e}"));
    let (keep, victim) = (agents.pid("claude"), agents.pid("codex"));
    assert!(alive(keep) && alive(victim));
    let victim_tree = descendants(victim);
    let home = PathBuf::from(agents.info["home"].as_str().expect("home"));
    let aimux_home = dir.path().join("aimux-home");

    let tmux = Tmux::start(dir.path(), 160, 48);
    let stty = dir.path().join("stty.txt");
    tmux.open_dashboard("env -u NO_COLOR", &home, &aimux_home, &stty);
    // Other agents may run on this machine: keep only the two in our scratch directory.
    let mine = dir
        .path()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("dir name")
        .to_string();
    tmux.text("/");
    tmux.text(&mine);
    tmux.keys(&["Enter"]);
    let pid_rows = |s: &str| -> Vec<u32> {
        let (_, rows) = table(s, "NAME");
        rows.iter()
            .filter_map(|r| {
                r.split_whitespace()
                    .find_map(|w| w.parse::<u32>().ok().filter(|p| *p == keep || *p == victim))
            })
            .collect()
    };
    let screen = tmux.wait_for("both agents in the list", |s| {
        s.contains("Agents (2/") && pid_rows(s).len() == 2
    });
    let order = pid_rows(&screen);
    let at = order
        .iter()
        .position(|p| *p == victim)
        .expect("victim listed");
    for _ in 0..at {
        tmux.text("j");
    }
    let confirm = |tmux: &Tmux| {
        tmux.text("x");
        let screen = tmux.wait_for("the kill confirmation", |s| s.contains("Kill agent?"));
        let pid_line = screen
            .lines()
            .find(|l| l.contains("│  pid"))
            .unwrap_or_else(|| panic!("the confirmation names no pid:\n{screen}"));
        assert!(
            pid_line.contains(&victim.to_string()),
            "wrong agent:\n{screen}"
        );
        assert!(
            !pid_line.contains(&keep.to_string()),
            "wrong agent:\n{screen}"
        );
        assert!(
            screen.lines().any(|l| l.contains("│  provider  codex")),
            "the confirmation does not name the provider:\n{screen}"
        );
    };

    // Cancel: nothing dies.
    confirm(&tmux);
    tmux.text("n");
    tmux.wait_for("the cancel", |s| {
        !s.contains("Kill agent?") && s.contains("kill cancelled")
    });
    let until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < until {
        assert!(
            alive(victim) && alive(keep),
            "an agent died after cancelling the kill"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Confirm: that agent (its whole process tree) ends, the other one does not.
    confirm(&tmux);
    tmux.text("y");
    let start = Instant::now();
    while alive(victim) && start.elapsed() < TIMEOUT {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!alive(victim), "the chosen agent {victim} is still running");
    let survivors: Vec<u32> = victim_tree.iter().copied().filter(|p| alive(*p)).collect();
    assert!(
        survivors.is_empty(),
        "children of the killed agent still run: {survivors:?}"
    );
    tmux.wait_for("the killed agent gone from the list", |s| {
        s.contains("Agents (1/") && pid_rows(s) == vec![keep]
    });
    assert!(alive(keep), "the other agent {keep} was killed too");
    tmux.text("q");
    tmux.assert_restored(&stty);
    assert!(alive(keep), "the other agent {keep} died");
}
