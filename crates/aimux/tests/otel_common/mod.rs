//! Shared helpers of the OpenTelemetry tests: `aimux serve` on a free port, HTTP, skips.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn aimux_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aimux"))
}

pub fn skip(test: &str, reason: &str) {
    println!("SKIPPED {test}: {reason}");
    eprintln!("SKIPPED {test}: {reason}");
}

/// A running `aimux serve`, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: String,
}

impl Serve {
    pub fn start(aimux_home: &Path, extra: &[&str]) -> Serve {
        Serve::start_with(aimux_home, &aimux_home.join("no-agent-data"), false, extra)
    }

    /// `engine`: run the live engine too (agents at /debug/agents) on `data_home`.
    pub fn start_with(aimux_home: &Path, data_home: &Path, engine: bool, extra: &[&str]) -> Serve {
        let mut child = Command::new(aimux_bin())
            .env("AIMUX_HOME", aimux_home)
            .env_remove("AIMUX_OTEL_TOKEN")
            .args(["--home"])
            .arg(data_home)
            .args(["serve", "--otel-listen", "127.0.0.1:0"])
            .args(if engine {
                vec!["--interval-ms", "300"]
            } else {
                vec!["--no-engine"]
            })
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start aimux serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("serve banner");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Serve { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn get(&self, path: &str) -> Value {
        get_json(&format!("{}{path}", self.url()))
    }

    /// Waits until `/debug/sessions` has a session satisfying `f`.
    pub fn wait_session(&self, timeout: Duration, f: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.get("/debug/sessions");
            if let Some(s) = all.as_array().into_iter().flatten().find(|s| f(s)) {
                return Some(s.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain kill(2) on the child we started.
        unsafe {
            libc_kill(pid, 15);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

pub fn get_json(url: &str) -> Value {
    let mut r = agent()
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let body = r.body_mut().read_to_string().unwrap_or_default();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: {e}: {body}"))
}

pub fn post_json(url: &str, body: &Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = agent().post(url).header("Content-Type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req
        .send(body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A free 127.0.0.1 port (bound then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs `aimux` with a scratch AIMUX_HOME and a data home; returns stdout (asserts success).
pub fn aimux(aimux_home: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new(aimux_bin())
        .env("AIMUX_HOME", aimux_home)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run aimux");
    assert!(
        out.status.success(),
        "aimux {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the committed fixture home (tests/fixtures/home) in `dir`.
pub fn fixture_home(dir: &Path) -> PathBuf {
    let src = workspace().join("tests/fixtures/home");
    let dst = dir.join("home");
    copy_dir(&src, &dst);
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read fixture dir").flatten() {
        let p = e.path();
        let to = dst.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).expect("copy fixture");
        }
    }
}

/// The committed ground truth for the fixture sessions.
pub fn expected_session(id: &str) -> Value {
    let text = std::fs::read_to_string(workspace().join("tests/fixtures/expected/sessions.json"))
        .expect("expected sessions");
    let v: Value = serde_json::from_str(&text).expect("json");
    v.as_array()
        .into_iter()
        .flatten()
        .find(|s| s["session_id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no expected session {id}"))
}
