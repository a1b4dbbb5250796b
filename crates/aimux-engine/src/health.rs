//! `aimux health` and the TUI's health view: per provider, is the CLI installed (found on
//! `PATH` without a shell), which version (`<bin> --version`, with a short timeout, only
//! when asked), how many live agents, is its session directory there, and the last error;
//! plus the telemetry receiver and infrastructure backends.
//!
//! Collecting runs processes, so it happens on demand only, never per refresh tick.

use crate::agents::AgentsSnapshot;
use crate::sources::all_sources;
use aimux_core::Provider;
use serde::Serialize;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderHealth {
    pub provider: Provider,
    /// The executable's name looked up on `PATH`.
    pub binary_name: String,
    /// Full path of the executable, when found.
    pub binary: Option<String>,
    pub version: Option<String>,
    /// Why the version is missing (timeout, exit status, spawn error).
    pub version_error: Option<String>,
    pub live_agents: usize,
    pub session_dir: String,
    pub session_dir_found: bool,
    /// The provider's last discovery error, from the latest agents refresh.
    pub last_error: Option<String>,
}

/// A backend aimux can talk to (telemetry receiver, Redis, Kubernetes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackendHealth {
    pub name: String,
    pub configured: bool,
    /// `ok`, `error`, `not configured`.
    pub state: String,
    pub detail: String,
}

impl BackendHealth {
    pub fn not_configured(name: &str, detail: &str) -> BackendHealth {
        BackendHealth {
            name: name.to_string(),
            configured: false,
            state: "not configured".into(),
            detail: detail.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub providers: Vec<ProviderHealth>,
    pub telemetry: Vec<BackendHealth>,
    pub infrastructure: Vec<BackendHealth>,
    pub checked_at: String,
}

#[derive(Debug, Clone)]
pub struct HealthOptions {
    /// Run `<bin> --version` for each binary found.
    pub versions: bool,
    pub version_timeout: Duration,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            versions: true,
            version_timeout: Duration::from_secs(3),
        }
    }
}

/// The executable name of each provider's CLI.
pub fn binary_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Claude => "claude",
        Provider::Codex => "codex",
        Provider::Gemini => "gemini",
        Provider::Opencode => "opencode",
    }
}

/// Collects the health report. `path_var` is the `PATH` to search (normally
/// `std::env::var_os("PATH")`); `agents` is the latest agents snapshot.
pub fn collect(
    home: &Path,
    path_var: Option<&OsStr>,
    agents: &AgentsSnapshot,
    options: &HealthOptions,
) -> HealthReport {
    let providers = all_sources()
        .iter()
        .map(|source| {
            let provider = source.provider();
            let name = binary_name(provider);
            let binary = path_var.and_then(|p| find_on_path(name, p));
            let (version, version_error) = match (&binary, options.versions) {
                (Some(bin), true) => match version_of(bin, options.version_timeout) {
                    Ok(v) => (Some(v), None),
                    Err(e) => (None, Some(e)),
                },
                _ => (None, None),
            };
            let dir = source.data_dir(home);
            ProviderHealth {
                provider,
                binary_name: name.to_string(),
                binary: binary.map(|b| b.display().to_string()),
                version,
                version_error,
                live_agents: agents
                    .agents
                    .iter()
                    .filter(|a| a.provider == provider)
                    .count(),
                session_dir_found: dir.is_dir(),
                session_dir: dir.display().to_string(),
                last_error: agents
                    .errors
                    .iter()
                    .rev()
                    .find(|e| e.provider == provider)
                    .map(|e| e.error.clone()),
            }
        })
        .collect();
    HealthReport {
        providers,
        telemetry: vec![BackendHealth::not_configured(
            "OTLP receiver",
            "no receiver in this build; agents' telemetry is not collected yet",
        )],
        infrastructure: vec![
            BackendHealth::not_configured("Redis (coordination)", "set `redis:` in config.yaml"),
            BackendHealth::not_configured(
                "Kubernetes (compute)",
                "set `kubernetes:` in config.yaml",
            ),
        ],
        checked_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// The first executable file called `name` in the `PATH`-style list `path_var`.
pub fn find_on_path(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Runs `<bin> --version` (no shell) and returns the first non-empty output line. The
/// child is killed if it has not exited within `timeout`.
pub fn version_of(bin: &Path, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {} --version: {e}", bin.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "--version did not answer within {} ms",
                    timeout.as_millis()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for --version: {e}")),
        }
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    let first = |t: &str| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.chars().take(120).collect::<String>())
    };
    if !status.success() {
        return Err(format!(
            "--version exited with {status}{}",
            first(&err).map(|l| format!(": {l}")).unwrap_or_default()
        ));
    }
    first(&out)
        .or_else(|| first(&err))
        .ok_or_else(|| "--version printed nothing".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::ProviderError;

    #[cfg(unix)]
    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        p
    }

    #[cfg(unix)]
    #[test]
    fn finds_binaries_and_versions_without_a_shell_lookup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        let other = dir.path().join("other");
        std::fs::create_dir_all(&bin).expect("mkdir");
        std::fs::create_dir_all(&other).expect("mkdir");
        script(&bin, "claude", "echo '2.1.197 (Claude Code)'");
        script(&bin, "codex", "sleep 5");
        // Not executable: must be skipped.
        std::fs::write(other.join("gemini"), "x").expect("write");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".claude")).expect("mkdir");
        let path = std::env::join_paths([other.as_path(), bin.as_path()]).expect("join");
        let snapshot = AgentsSnapshot {
            agents: Vec::new(),
            errors: vec![ProviderError {
                provider: Provider::Gemini,
                error: "boom".into(),
            }],
            taken_at: None,
        };
        let report = collect(
            &home,
            Some(path.as_os_str()),
            &snapshot,
            &HealthOptions {
                versions: true,
                version_timeout: Duration::from_millis(300),
            },
        );
        let get = |p: Provider| {
            report
                .providers
                .iter()
                .find(|h| h.provider == p)
                .expect("provider listed")
        };
        let claude = get(Provider::Claude);
        assert_eq!(
            claude.binary.as_deref(),
            Some(bin.join("claude").to_str().expect("utf8"))
        );
        assert_eq!(claude.version.as_deref(), Some("2.1.197 (Claude Code)"));
        assert!(claude.session_dir_found);
        let codex = get(Provider::Codex);
        assert!(codex.version.is_none());
        assert!(
            codex
                .version_error
                .as_deref()
                .is_some_and(|e| e.contains("did not answer")),
            "{codex:?}"
        );
        assert!(!codex.session_dir_found);
        let gemini = get(Provider::Gemini);
        assert_eq!(gemini.binary, None);
        assert_eq!(gemini.last_error.as_deref(), Some("boom"));
        assert!(report.telemetry.iter().all(|b| !b.configured));
    }

    #[cfg(unix)]
    #[test]
    fn failing_version_reports_exit_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = script(dir.path(), "x", "echo nope >&2; exit 3");
        let err = version_of(&bin, Duration::from_secs(2)).expect_err("fails");
        assert!(err.contains("nope"), "{err}");
    }
}
