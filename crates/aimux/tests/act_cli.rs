//! `aimux spawn` with recorder programs standing in for the CLIs
//! (`AIMUX_<PROVIDER>_BIN`), on a private tmux server (`AIMUX_TMUX_SOCKET`): the argv each
//! CLI gets (prompt verbatim as one argument, model, mode, telemetry overrides), the
//! telemetry environment, session names, worktrees, and the errors. Fast, no real CLI
//! needed; skips (printing `SKIPPED <test>: <reason>`) without tmux, python3 or git.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Setup {
    dir: tempfile::TempDir,
    project: PathBuf,
    bins: PathBuf,
}

impl Setup {
    fn sock(&self) -> PathBuf {
        self.dir.path().join("tmux.sock")
    }

    fn aimux(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aimux"));
        c.env("AIMUX_TMUX_SOCKET", self.sock())
            .env("AIMUX_DATA_HOME", self.dir.path().join("home"))
            .env("AIMUX_HOME", self.dir.path().join("aimux-home"))
            .env("AIMUX_OTEL_ENDPOINT", "http://127.0.0.1:4999")
            .env_remove("TMUX")
            .stdin(Stdio::null());
        for p in ["claude", "codex", "gemini"] {
            c.env(format!("AIMUX_{}_BIN", p.to_uppercase()), self.bins.join(p));
        }
        c
    }

    fn spawn(&self, args: &[&str]) -> Value {
        let out = self
            .aimux()
            .arg("spawn")
            .args(args)
            .output()
            .expect("aimux");
        assert!(
            out.status.success(),
            "aimux spawn {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("spawn --json")
    }

    /// What the recorder behind pane pid `pid` saw.
    fn record(&self, pid: u64) -> Value {
        let path = self.bins.join(format!("rec-{pid}.json"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(t) = std::fs::read_to_string(&path)
                && let Ok(v) = serde_json::from_str(&t)
            {
                return v;
            }
            assert!(Instant::now() < deadline, "no record at {}", path.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.sock())
            .arg("kill-server")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

const RECORDER: &str = r#"#!/usr/bin/env python3
import json, os, sys, time
env = {k: v for k, v in os.environ.items() if "OTEL" in k or "TELEMETRY" in k}
rec = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": env}
path = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "rec-%d.json" % os.getpid())
with open(path + ".tmp", "w") as f:
    json.dump(rec, f)
os.replace(path + ".tmp", path)
time.sleep(60)
"#;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "user.name=t",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn setup(test: &str) -> Option<Setup> {
    for (p, a) in [
        ("tmux", "-V"),
        ("python3", "--version"),
        ("git", "--version"),
    ] {
        if !have(p, a) {
            println!("SKIPPED {test}: {p} is not installed");
            return None;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bins = dir.path().join("bins");
    std::fs::create_dir_all(&bins).expect("bins");
    for p in ["claude", "codex", "gemini"] {
        let f = bins.join(p);
        std::fs::write(&f, RECORDER).expect("recorder");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let project = dir.path().join("my.proj");
    std::fs::create_dir_all(&project).expect("project");
    std::fs::write(project.join("README.md"), "x\n").expect("readme");
    git(&project, &["init", "-q", "."]);
    git(&project, &["add", "-A"]);
    git(&project, &["commit", "-qm", "init"]);
    let project = project.canonicalize().expect("canonical");
    Some(Setup { dir, project, bins })
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[test]
fn spawn_passes_argv_verbatim_with_model_mode_and_telemetry() {
    let Some(s) = setup("spawn_passes_argv_verbatim_with_model_mode_and_telemetry") else {
        return;
    };
    let pwned = s.dir.path().join("pwned");
    let prompt = format!(
        "\"quotes\"; $(touch {p}) `touch {p}` 'x' \\ \nsecond line",
        p = pwned.display()
    );
    let dir = s.project.to_str().expect("utf-8").to_string();
    let mut pids = Vec::new();
    for p in ["claude", "codex", "gemini"] {
        let v = s.spawn(&[
            p, "--dir", &dir, "--prompt", &prompt, "--model", "m-1", "--mode", "plan", "--otel",
            "--detach", "--json",
        ]);
        // tmux allows no '.' in names: the project part is sanitised.
        assert_eq!(v["session"], format!("aimux-{p}-my_proj-1"));
        assert_eq!(v["dir"].as_str(), Some(dir.as_str()));
        let pid = v["pid"].as_u64().expect("pid");
        let rec = s.record(pid);
        assert_eq!(rec["cwd"].as_str(), Some(dir.as_str()));
        let argv = strs(&rec["argv"]);
        // The prompt is one argument, verbatim (gemini's as `--prompt-interactive=`).
        let hits: Vec<&String> = argv.iter().filter(|a| a.ends_with(&prompt)).collect();
        assert_eq!(hits.len(), 1, "{p}: {argv:?}");
        let env = &rec["env"];
        match p {
            "claude" => {
                assert_eq!(argv.last(), Some(&prompt));
                assert!(argv.windows(2).any(|w| w == ["--model", "m-1"]));
                assert!(argv.windows(2).any(|w| w == ["--permission-mode", "plan"]));
                assert_eq!(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://127.0.0.1:4999");
                assert_eq!(env["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
            }
            "codex" => {
                assert_eq!(argv.last(), Some(&prompt));
                assert!(argv.windows(2).any(|w| w == ["--model", "m-1"]));
                assert!(argv.windows(2).any(|w| w == ["--ask-for-approval", "plan"]));
                assert!(
                    argv.iter().any(|a| a.starts_with("otel.exporter=")
                        && a.contains("\"http://127.0.0.1:4999/v1/logs\"")),
                    "{argv:?}"
                );
            }
            _ => {
                assert_eq!(argv.last(), Some(&format!("--prompt-interactive={prompt}")));
                assert!(argv.contains(&"--approval-mode=plan".to_string()));
                assert_eq!(
                    env["GEMINI_TELEMETRY_OTLP_ENDPOINT"],
                    "http://127.0.0.1:4999"
                );
            }
        }
        pids.push(pid);
    }
    assert!(!pwned.exists(), "a shell ran the prompt");
    // Without --otel no telemetry variables are added; names take the next free number.
    let v = s.spawn(&["claude", "--dir", &dir, "--detach", "--json"]);
    assert_eq!(v["session"], "aimux-claude-my_proj-2");
    let rec = s.record(v["pid"].as_u64().expect("pid"));
    assert_eq!(strs(&rec["argv"]), Vec::<String>::new());
    assert!(
        rec["env"].get("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
            || std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
    );
    // tmux lists every session with the recorder as its pane process.
    let out = Command::new("tmux")
        .arg("-S")
        .arg(s.sock())
        .args(["list-panes", "-a", "-F", "#{session_name} #{pane_pid}"])
        .output()
        .expect("tmux");
    let panes = String::from_utf8_lossy(&out.stdout);
    for pid in pids {
        assert!(
            panes.lines().any(|l| l.ends_with(&format!(" {pid}"))),
            "{panes}"
        );
    }
}

#[test]
fn spawn_in_a_new_worktree() {
    let Some(s) = setup("spawn_in_a_new_worktree") else {
        return;
    };
    let dir = s.project.to_str().expect("utf-8").to_string();
    let v = s.spawn(&[
        "codex",
        "--dir",
        &dir,
        "--worktree",
        "feat-1",
        "--detach",
        "--json",
    ]);
    let wt = s.project.parent().expect("parent").join("my.proj-feat-1");
    assert_eq!(v["dir"].as_str(), wt.to_str());
    let rec = s.record(v["pid"].as_u64().expect("pid"));
    assert_eq!(rec["cwd"].as_str(), wt.to_str());
    let list = git(&s.project, &["worktree", "list", "--porcelain"]);
    assert!(
        list.contains(&format!("worktree {}", wt.display())) && list.contains("refs/heads/feat-1"),
        "{list}"
    );
    // The same name again: the directory exists, refused with a reason.
    let out = s
        .aimux()
        .args([
            "spawn",
            "codex",
            "--dir",
            &dir,
            "--worktree",
            "feat-1",
            "--detach",
        ])
        .output()
        .expect("aimux");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

#[test]
fn spawn_errors_say_what_is_wrong() {
    let Some(s) = setup("spawn_errors_say_what_is_wrong") else {
        return;
    };
    let run = |args: &[&str]| {
        let out = s.aimux().arg("spawn").args(args).output().expect("aimux");
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(run(&["frob", "--detach"]).contains("unknown provider 'frob'"));
    let missing = s.dir.path().join("nope");
    let err = run(&[
        "claude",
        "--dir",
        missing.to_str().expect("utf-8"),
        "--detach",
    ]);
    assert!(err.contains("does not exist"), "{err}");
    let err = run(&[
        "claude",
        "--dir",
        s.project.to_str().expect("utf-8"),
        "--worktree",
        "../escape",
        "--detach",
    ]);
    assert!(err.contains("worktree name"), "{err}");
}
