//! A running `aimux serve` on a free loopback port, stopped (SIGTERM, then SIGKILL) when
//! dropped.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Serve {
    child: Child,
    pub addr: SocketAddr,
}

impl Serve {
    /// Starts `aimux --home HOME serve --otel-listen 127.0.0.1:0 EXTRA…` with its own
    /// state in `aimux_home`, and waits for the banner that names its address.
    pub fn start(
        aimux: &Path,
        home: &Path,
        aimux_home: &Path,
        extra: &[&str],
    ) -> io::Result<Serve> {
        let mut child = Command::new(aimux)
            .arg("--home")
            .arg(home)
            .args(["serve", "--otel-listen", "127.0.0.1:0"])
            .args(extra)
            .env("AIMUX_HOME", aimux_home)
            .env("HOME", home)
            .env_remove("AIMUX_DATA_HOME")
            .env_remove("AIMUX_OTEL_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take();
        let mut line = String::new();
        if let Some(out) = stdout {
            // The banner is the first line; the pipe is dropped afterwards (serve prints
            // nothing more to stdout).
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|a| a.parse().ok());
        let mut serve = Serve {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        match addr {
            Some(a) => serve.addr = a,
            None => {
                return Err(io::Error::other(format!(
                    "aimux serve printed no address (first line {:?})",
                    line.trim()
                )));
            }
        }
        Ok(serve)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `GET path` until `ready` accepts the document or `timeout` passes.
    pub fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        mut ready: impl FnMut(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(v) = crate::http::get_json(self.addr, path)
                && ready(&v)
            {
                return Some(v);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// SIGTERM, up to 5 s to exit, then SIGKILL; always reaped.
pub fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: signalling a child this runner started and has not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
