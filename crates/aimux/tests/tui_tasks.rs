//! The dashboard's tasks view over a real redis-server: the real `aimux` binary runs in a
//! private tmux server (its own socket, killed when the test ends), keys go in with
//! `send-keys`, the screen comes back with `capture-pane`.
//!
//! * a task queued with `aimux task submit` shows in `T` with its role, Enter shows its
//!   prompt and log (read from Redis), `:task codex …` queues a second one that
//!   `aimux task list --json` then holds;
//! * with nothing listening at the configured URL the view names it and says how to
//!   configure coordination, and the dashboard keeps working.
//!
//! Prints `SKIPPED <test>: <reason>` and passes when tmux or redis-server is missing.

mod infra_support;

use infra_support::{aimux, aimux_cmd, redis, run};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Upper bound for one wait on the screen (the machine is small and busy).
const TIMEOUT: Duration = Duration::from_secs(25);
const PROMPT: &str = "aimux-tasks$";

fn have_tmux(test: &str) -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIPPED {test}: tmux is not installed");
    }
    ok
}

/// Single-quotes a word for the shell in the pane.
fn shq(s: impl AsRef<std::ffi::OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A private tmux server with one window running a plain shell; killed on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(dir: &Path) -> Tmux {
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
        };
        let shell = format!("env PS1='{PROMPT} ' HISTFILE=/dev/null bash --norc --noprofile");
        tmux.ok(&[
            "new-session",
            "-d",
            "-s",
            "tasks",
            "-x",
            "140",
            "-y",
            "36",
            &shell,
        ]);
        tmux.wait_for("the shell prompt", |s| s.contains(PROMPT));
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

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tasks"];
        args.extend_from_slice(keys);
        self.ok(&args);
    }

    fn text(&self, text: &str) {
        self.ok(&["send-keys", "-t", "tasks", "-l", text]);
    }

    fn screen(&self) -> String {
        self.ok(&["capture-pane", "-p", "-t", "tasks"])
    }

    /// Polls until `ok` holds on two equal captures in a row; panics with the screen after
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

    /// Starts the dashboard with `redis_url` over an empty agent home.
    fn open_dashboard(&self, scratch: &Path, redis_url: &str) {
        let home = scratch.join("home");
        std::fs::create_dir_all(&home).expect("home");
        self.text(&format!(
            "env -u NO_COLOR AIMUX_REDIS_URL={} {} --home {} --aimux-home {}",
            shq(redis_url),
            shq(aimux()),
            shq(&home),
            shq(scratch.join("aimux-home"))
        ));
        self.keys(&["Enter"]);
        self.wait_for("the dashboard", |s| {
            s.starts_with(" aimux ") && s.contains("q quit")
        });
    }

    fn quit(&self) {
        self.keys(&["Escape"]);
        self.text(":q");
        self.keys(&["Enter"]);
        self.wait_for("the shell after quitting", |s| {
            s.lines().rev().map(str::trim_end).find(|l| !l.is_empty()) == Some(PROMPT)
        });
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[test]
fn tasks_view_lists_shows_and_submits_through_real_redis() {
    let test = "tasks_view_lists_shows_and_submits_through_real_redis";
    if !have_tmux(test) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let Some(redis) = redis(test, scratch.path()) else {
        return;
    };
    let url = redis.url();
    let (code, out, err) = run(aimux_cmd(scratch.path(), &url).args([
        "task",
        "submit",
        "--provider",
        "claude",
        "--role",
        "reviewer",
        "--prompt",
        "Review the parser for panics on bad input",
    ]));
    assert_eq!(code, 0, "submit failed: {out}{err}");
    assert!(out.starts_with("t-1 queued for claude"), "{out}");

    let tmux = Tmux::start(scratch.path());
    tmux.open_dashboard(scratch.path(), &url);
    tmux.keys(&["T"]);
    let screen = tmux.wait_for("the queued task in the tasks view", |s| {
        s.contains("t-1") && s.contains("pending") && s.contains("reviewer")
    });
    assert!(screen.contains(&url), "the title names the store: {screen}");
    assert!(
        screen.contains("❯ Review the parser for panics"),
        "a pending task shows its prompt: {screen}"
    );

    tmux.keys(&["Enter"]);
    tmux.wait_for("the detail with its log from Redis", |s| {
        s.contains("Task t-1") && s.contains("submitted for claude") && s.contains("Prompt")
    });
    tmux.keys(&["Escape"]);
    tmux.wait_for("the detail closed", |s| !s.contains("Task t-1"));

    tmux.text(":task codex Second task, typed in the dashboard");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("the new task id and its row", |s| {
        s.contains("t-2 queued for codex") && s.contains("❯ Second task, typed")
    });
    assert!(screen.contains("Tasks (2)"), "{screen}");
    tmux.quit();

    let (code, out, err) = run(aimux_cmd(scratch.path(), &url).args(["task", "list", "--json"]));
    assert_eq!(code, 0, "list failed: {out}{err}");
    let tasks: serde_json::Value = serde_json::from_str(&out).expect("task list json");
    let second = tasks
        .as_array()
        .and_then(|a| a.iter().find(|t| t["id"] == "t-2"))
        .unwrap_or_else(|| panic!("t-2 not in Redis: {out}"));
    assert_eq!(second["provider"], "codex");
    assert_eq!(second["status"], "pending");
    assert_eq!(second["prompt"], "Second task, typed in the dashboard");
}

#[test]
fn tasks_view_without_redis_says_how_to_configure_it() {
    let test = "tasks_view_without_redis_says_how_to_configure_it";
    if !have_tmux(test) {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: bound, then released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("redis://127.0.0.1:{port}");
    let tmux = Tmux::start(scratch.path());
    tmux.open_dashboard(scratch.path(), &url);
    tmux.keys(&["T"]);
    let screen = tmux.wait_for("the unreachable message", |s| {
        s.contains("cannot reach the coordination Redis") && s.contains("AIMUX_REDIS_URL=")
    });
    assert!(screen.contains(&url), "names the URL it tried: {screen}");
    assert!(screen.contains("from AIMUX_REDIS_URL"), "{screen}");
    assert!(screen.contains("redis.url"), "{screen}");
    // Still a working dashboard: other views open, q quits.
    tmux.text(":health");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the health view", |s| s.contains("Providers"));
    tmux.quit();
}
