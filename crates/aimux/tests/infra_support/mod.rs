//! Helpers of the infra_* tests: a private real redis-server, the scripted model server,
//! a scratch HOME for the real Claude Code. Every process started here is stopped by PID.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn aimux() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_aimux"))
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Kills the child when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Redis {
    _p: Proc,
    pub port: u16,
}

impl Redis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

fn redis_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if buf[..n].starts_with(b"+PONG"))
}

/// A private redis-server, or None after printing SKIPPED.
pub fn redis(test: &str, dir: &Path) -> Option<Redis> {
    let Some(bin) = on_path("redis-server") else {
        eprintln!("SKIPPED {test}: redis-server is not installed (apt-get install redis-server)");
        return None;
    };
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if redis_ping(port) {
                return Some(Redis {
                    _p: Proc(child),
                    port,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redis-server did not start");
}

pub struct ModelServer {
    _p: Proc,
    pub port: u16,
    pub record: PathBuf,
}

/// testkit/model_server.py on a free port, or None after printing SKIPPED.
pub fn model_server(test: &str, dir: &Path) -> Option<ModelServer> {
    let Some(py) = on_path("python3") else {
        eprintln!("SKIPPED {test}: python3 is not installed");
        return None;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testkit/model_server.py");
    let port_file = dir.join("model-port");
    let record = dir.join("model-record.jsonl");
    let child = Command::new(py)
        .arg(&script)
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .arg("--record")
        .arg(&record)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn model server");
    let p = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(ModelServer {
                _p: p,
                port,
                record,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("model server did not start");
}

pub const CLAUDE_KEY: &str = "sk-ant-scripted-key-0123456789abcdefghij";

/// The installed Claude Code, or None after printing SKIPPED.
pub fn claude_bin(test: &str) -> Option<PathBuf> {
    let prefix = std::env::var_os("AIMUX_AGENTS_PREFIX")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/aimux-agents")));
    let bin = prefix.map(|p| p.join("node_modules/.bin/claude"));
    match bin {
        Some(b) if b.is_file() => Some(b),
        _ => {
            eprintln!("SKIPPED {test}: Claude Code is not installed (scripts/install-agents)");
            None
        }
    }
}

/// A scratch HOME seeded like testkit/agents_env.py does (onboarding done, the scripted
/// API key approved, the project trusted).
pub fn seed_claude_home(home: &Path, project: &Path) {
    std::fs::create_dir_all(home.join(".claude")).expect("mkdir");
    let last20 = &CLAUDE_KEY[CLAUDE_KEY.len() - 20..];
    let cfg = serde_json::json!({
        "hasCompletedOnboarding": true, "lastOnboardingVersion": "2.1.197", "theme": "dark",
        "customApiKeyResponses": {"approved": [last20], "rejected": []},
        "autoUpdates": false,
        "projects": {project.display().to_string(): {"hasTrustDialogAccepted": true,
            "hasCompletedProjectOnboarding": true, "allowedTools": []}},
    });
    std::fs::write(
        home.join(".claude.json"),
        serde_json::to_string_pretty(&cfg).expect("json"),
    )
    .expect("write");
    std::fs::write(
        home.join(".claude/settings.json"),
        r#"{"permissions": {"allow": ["Bash(ls:*)", "Bash(echo:*)"]}}"#,
    )
    .expect("write");
}

/// Environment for running Claude Code against the model server.
pub fn claude_env(cmd: &mut Command, home: &Path, claude: &Path, port: u16) {
    let bin_dir = claude.parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cmd.env("HOME", home)
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("ANTHROPIC_API_KEY", CLAUDE_KEY)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1");
}

/// Runs aimux with a private AIMUX_HOME / data home and the given Redis; returns (code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("run aimux");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn aimux_cmd(scratch: &Path, redis_url: &str) -> Command {
    let mut c = Command::new(aimux());
    c.env("AIMUX_HOME", scratch.join("aimux-home"))
        .env("AIMUX_DATA_HOME", scratch.join("data-home"))
        .env("AIMUX_REDIS_URL", redis_url);
    c
}
