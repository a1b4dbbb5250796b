//! The real `/proc`: spawn processes, scan, check what the scanner reports.
#![cfg(target_os = "linux")]

use aimux_core::Provider;
use aimux_engine::process::{ChildRole, ProcessScanner, group_agents, read_process_table};
use chrono::Utc;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn canon(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

#[test]
fn sleep_child_is_listed_with_the_right_fields_and_gone_after_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = Utc::now();
    let child = Command::new("sleep")
        .arg("30")
        .current_dir(dir.path())
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    let mut child = Reaped(child);

    let mut scanner = ProcessScanner::new();
    let table = scanner.scan().expect("scan /proc");
    let p = table.get(pid).expect("child listed");
    assert_eq!(p.pid, pid);
    assert_eq!(p.ppid, std::process::id());
    assert_eq!(p.argv, vec!["sleep".to_string(), "30".to_string()]);
    assert_eq!(p.comm, "sleep");
    assert_eq!(p.cwd.as_deref(), Some(canon(dir.path()).as_str()));
    assert!(
        p.exe.as_deref().is_some_and(|e| e.ends_with("/sleep")),
        "{:?}",
        p.exe
    );
    // Started between `before` and now; btime is whole seconds, so allow 2 s of slack.
    let started = p.started_at.expect("start time");
    let after = Utc::now();
    assert!(
        started >= before - chrono::Duration::seconds(2),
        "{started} < {before}"
    );
    assert!(
        started <= after + chrono::Duration::seconds(2),
        "{started} > {after}"
    );
    assert!(p.start_ticks > 0);
    assert!(p.rss_bytes > 0);
    assert_eq!(
        p.pgrp,
        table.get(std::process::id()).map_or(-2, |me| me.pgrp)
    );
    assert!(p.cpu_percent.is_none(), "first scan has no CPU %");
    // Our own process is listed too, and is its parent.
    assert!(table.get(std::process::id()).is_some());

    child.0.kill().expect("kill");
    child.0.wait().expect("wait");
    let table = scanner.scan().expect("rescan");
    assert!(table.get(pid).is_none(), "killed child still listed");
    assert!(table.procs.iter().all(|p| p.pid != pid));
}

#[test]
fn cpu_percent_of_a_busy_and_an_idle_process() {
    let busy = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .expect("spawn busy loop");
    let busy = Reaped(busy);
    let idle = Reaped(
        Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep"),
    );
    let mut scanner = ProcessScanner::new();
    scanner.scan().expect("scan");
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(700));
    let table = scanner.scan().expect("scan");
    assert!(t.elapsed() >= Duration::from_millis(700));
    let b = table
        .get(busy.0.id())
        .and_then(|p| p.cpu_percent)
        .expect("busy cpu");
    let i = table
        .get(idle.0.id())
        .and_then(|p| p.cpu_percent)
        .expect("idle cpu");
    // On a loaded 2-core machine the loop may get less than a full core, but far more
    // than an idle sleep.
    assert!(b > 10.0, "busy loop at {b}%");
    assert!(b < 250.0, "busy loop at {b}%");
    assert!(i < 5.0, "sleep at {i}%");
}

#[test]
fn a_program_named_claude_is_grouped_with_its_tool() {
    // `claude` here is a symlink to /bin/sh running a script that forks `sleep`: argv[0]
    // is `…/claude`, exactly what the recogniser looks at.
    let dir = tempfile::tempdir().expect("tempdir");
    let claude = dir.path().join("claude");
    std::os::unix::fs::symlink("/bin/sh", &claude).expect("symlink");
    let script = dir.path().join("run.sh");
    std::fs::write(&script, "sleep 30\nexit 0\n").expect("script");
    let agent = Reaped(
        Command::new(&claude)
            .arg(&script)
            .current_dir(dir.path())
            .spawn()
            .expect("spawn fake claude"),
    );
    let pid = agent.0.id();
    // Wait for the shell to fork its sleep.
    let deadline = Instant::now() + Duration::from_secs(10);
    let tree = loop {
        let table = read_process_table().expect("scan");
        let tree = group_agents(&table.procs);
        let found = tree
            .find(pid)
            .is_some_and(|a| a.children.iter().any(|c| c.process.comm == "sleep"));
        if found || Instant::now() > deadline {
            break tree;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let a = tree.find(pid).expect("fake claude found as an agent");
    assert_eq!(a.provider, Provider::Claude);
    assert_eq!(a.cwd.as_deref(), Some(canon(dir.path()).as_str()));
    let tools: Vec<&str> = a
        .children
        .iter()
        .filter(|c| c.role == ChildRole::Tool)
        .map(|c| c.process.comm.as_str())
        .collect();
    assert_eq!(tools, vec!["sleep"]);
    assert!(a.has_running_tool);
    assert_eq!(a.running_tool.as_deref(), Some("sleep"));
    // The test binary itself is not an agent.
    assert!(tree.find(std::process::id()).is_none());
}
