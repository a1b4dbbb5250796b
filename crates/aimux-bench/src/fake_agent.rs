//! Stand-ins for running agent CLIs: aimux recognises agents from the process table by
//! argv[0] (`claude`, `codex`, `gemini`) and ties each to its session file by the id on
//! its command line (`claude --session-id ID`, `codex resume ID`, `gemini --session-id ID`).
//! The stand-in is the bench binary itself re-executed under that argv[0]; it only sleeps,
//! and exits when its parent does.

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Set in a stand-in's environment: the binary sleeps instead of benchmarking.
const ENV: &str = "AIMUX_BENCH_FAKE_AGENT";

/// The longest a stand-in lives even if nobody stops it.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// Call first in `main`: in a stand-in this never returns.
pub fn run_if_fake_agent() {
    if std::env::var_os(ENV).is_none() {
        return;
    }
    // SAFETY: plain syscalls; the stand-in is killed with its parent.
    let parent = unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::getppid()
    };
    let began = Instant::now();
    // SAFETY: getppid has no preconditions.
    while began.elapsed() < MAX_LIFETIME && unsafe { libc::getppid() } == parent {
        std::thread::sleep(Duration::from_millis(500));
    }
    std::process::exit(0);
}

/// Running stand-ins, killed when dropped.
pub struct FakeAgents {
    children: Vec<Child>,
}

impl FakeAgents {
    /// One stand-in per `(provider, session id)`, running in `cwd`.
    pub fn spawn(exe: &Path, sessions: &[(String, String)], cwd: &Path) -> io::Result<FakeAgents> {
        let mut agents = FakeAgents {
            children: Vec::new(),
        };
        for (provider, id) in sessions {
            let args: Vec<&str> = match provider.as_str() {
                "codex" => vec!["resume", id],
                "claude" | "gemini" => vec!["--session-id", id],
                other => return Err(io::Error::other(format!("no stand-in for {other}"))),
            };
            let child = Command::new(exe)
                .arg0(provider)
                .args(args)
                .env(ENV, "1")
                .current_dir(cwd)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            agents.children.push(child);
        }
        Ok(agents)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }
}

impl Drop for FakeAgents {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
