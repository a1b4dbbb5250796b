//! Claude Code's live files: `~/.claude/sessions/<pid>.json`, one per running process,
//! deleted on clean exit. They map a pid to its session id and carry a live status.
//!
//! ```json
//! {"pid":24671,"sessionId":"a8f82001-…","cwd":"/tmp/agent-e2e/proj","startedAt":1795773685062,
//!  "procStart":"61804","version":"2.1.197","kind":"interactive","entrypoint":"cli",
//!  "status":"busy","updatedAt":1795773708981,"statusUpdatedAt":1795773708981}
//! ```
//!
//! `procStart` is the process's start time in clock ticks (`/proc/<pid>/stat` field 22),
//! which lets a stale file left by a killed process be told from a reused pid.

use super::procfs::ProcessTable;
use aimux_core::Timestamp;
use aimux_core::status::LiveStatus;
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Files larger than this are not live files.
const MAX_FILE: u64 = 1 << 20;

/// One live file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaudeLiveSession {
    pub pid: u32,
    pub session_id: String,
    pub cwd: Option<String>,
    pub started_at: Option<Timestamp>,
    /// Start ticks of the process that wrote the file.
    pub proc_start: Option<u64>,
    /// `None` in `-p` mode, which writes no status.
    pub status: Option<LiveStatus>,
    pub updated_at: Option<Timestamp>,
    pub status_updated_at: Option<Timestamp>,
    /// `interactive`, `bg`, `daemon`, `daemon-worker`.
    pub kind: Option<String>,
    /// `cli` (TUI), `sdk-cli` (`-p`), …
    pub entrypoint: Option<String>,
    pub version: Option<String>,
    pub name: Option<String>,
}

/// The live files of one `sessions` directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClaudeLiveScan {
    /// Live sessions by pid (only those whose process is alive).
    pub sessions: HashMap<u32, ClaudeLiveSession>,
    /// Files whose process is gone or whose pid was reused (normal after a crash).
    pub stale: Vec<u32>,
    /// Files that could not be read or parsed.
    pub warnings: Vec<String>,
}

fn ms_time(v: &Value) -> Option<Timestamp> {
    let ms = v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))?;
    DateTime::from_timestamp_millis(ms)
}

fn u64_of(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn str_of(o: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_string)
}

/// Parses one live file. `file_pid` (from the file name) is used when the JSON has no
/// `pid`.
pub fn parse_claude_live(bytes: &[u8], file_pid: Option<u32>) -> Result<ClaudeLiveSession, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let o = v.as_object().ok_or("not a JSON object")?;
    let pid = match o.get("pid") {
        Some(p) => u64_of(p)
            .and_then(|p| u32::try_from(p).ok())
            .ok_or("bad pid")?,
        None => file_pid.ok_or("no pid")?,
    };
    let session_id = str_of(o, "sessionId")
        .filter(|s| !s.is_empty())
        .ok_or("no sessionId")?;
    let status = o
        .get("status")
        .and_then(Value::as_str)
        .map(|s| LiveStatus::parse(s, o.get("waitingFor").and_then(Value::as_str)));
    Ok(ClaudeLiveSession {
        pid,
        session_id,
        cwd: str_of(o, "cwd"),
        started_at: o.get("startedAt").and_then(ms_time),
        proc_start: o.get("procStart").and_then(u64_of),
        status,
        updated_at: o.get("updatedAt").and_then(ms_time),
        status_updated_at: o.get("statusUpdatedAt").and_then(ms_time),
        kind: str_of(o, "kind"),
        entrypoint: str_of(o, "entrypoint"),
        version: str_of(o, "version"),
        name: str_of(o, "name"),
    })
}

/// Reads `<home>/.claude/sessions/*.json`.
pub fn read_claude_live_sessions(home: &Path, table: &ProcessTable) -> ClaudeLiveScan {
    read_claude_live_dir(&home.join(".claude").join("sessions"), table)
}

/// Reads every `<pid>.json` of a sessions directory, keeping the files whose process is
/// alive in `table` (and, when the file has `procStart`, started at those ticks). A
/// missing directory is an empty result; unreadable or malformed files are warnings.
pub fn read_claude_live_dir(dir: &Path, table: &ProcessTable) -> ClaudeLiveScan {
    let mut scan = ClaudeLiveScan::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return scan;
    };
    let mut names: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    names.sort();
    for path in names {
        let Some(file_pid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let shown = path.display();
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_FILE => {
                scan.warnings
                    .push(format!("{shown}: too large ({} bytes), skipped", m.len()));
                continue;
            }
            Ok(_) => {}
            // Deleted between listing and reading: the process just exited.
            Err(_) => continue,
        }
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                scan.warnings.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let rec = match parse_claude_live(&bytes, Some(file_pid)) {
            Ok(r) => r,
            Err(e) => {
                scan.warnings.push(format!("{shown}: {e}, skipped"));
                continue;
            }
        };
        if rec.pid != file_pid {
            scan.warnings.push(format!(
                "{shown}: pid {} differs from the file name, using {}",
                rec.pid, rec.pid
            ));
        }
        if !table.is_alive(rec.pid, rec.proc_start) {
            scan.stale.push(rec.pid);
            continue;
        }
        scan.sessions.insert(rec.pid, rec);
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::procfs::ProcInfo;

    // From /tmp/samples/home/.claude/sessions/5196.json (written by claude-code 2.1.197).
    const SAMPLE: &str = r#"{"pid":5196,"sessionId":"dd6514a3-8ddf-4a6c-9196-a8799160ac6a","cwd":"/tmp/agent-e2e/proj","startedAt":1795777210888,"procStart":"26002","version":"2.1.197","peerProtocol":1,"kind":"interactive","entrypoint":"cli","name":"proj-fe","nameSource":"derived","status":"idle","updatedAt":1795777219273,"statusUpdatedAt":1795777219273}"#;

    // `-p` mode: no status field (FINDINGS).
    const PRINT_MODE: &str = r#"{"pid":24700,"sessionId":"dc804486-0000-0000-0000-000000000000","cwd":"/tmp/agentproj","startedAt":1795773685062,"procStart":"61900","version":"2.1.197","kind":"interactive","entrypoint":"sdk-cli"}"#;

    #[test]
    fn parses_the_real_file() {
        let r = parse_claude_live(SAMPLE.as_bytes(), None);
        let r = r.as_ref().ok();
        assert_eq!(r.map(|r| r.pid), Some(5196));
        assert_eq!(
            r.map(|r| r.session_id.as_str()),
            Some("dd6514a3-8ddf-4a6c-9196-a8799160ac6a")
        );
        assert_eq!(r.and_then(|r| r.proc_start), Some(26002));
        assert_eq!(r.and_then(|r| r.status.clone()), Some(LiveStatus::Idle));
        assert_eq!(
            r.and_then(|r| r.started_at).map(|t| t.timestamp_millis()),
            Some(1795777210888)
        );
        assert_eq!(
            r.and_then(|r| r.updated_at).map(|t| t.timestamp_millis()),
            Some(1795777219273)
        );
        assert_eq!(
            r.and_then(|r| r.cwd.as_deref()),
            Some("/tmp/agent-e2e/proj")
        );
        assert_eq!(r.and_then(|r| r.kind.as_deref()), Some("interactive"));
        assert_eq!(r.and_then(|r| r.entrypoint.as_deref()), Some("cli"));
    }

    #[test]
    fn print_mode_has_no_status_and_waiting_carries_its_reason() {
        let r = parse_claude_live(PRINT_MODE.as_bytes(), None);
        assert_eq!(r.as_ref().ok().map(|r| r.status.clone()), Some(None));
        let w = br#"{"pid":1,"sessionId":"s","status":"waiting","waitingFor":"permission prompt","procStart":7}"#;
        let r = parse_claude_live(w, None);
        assert_eq!(
            r.as_ref().ok().and_then(|r| r.status.clone()),
            Some(LiveStatus::Waiting {
                waiting_for: Some("permission prompt".into())
            })
        );
        assert_eq!(r.ok().and_then(|r| r.proc_start), Some(7));
    }

    #[test]
    fn malformed_records() {
        assert!(parse_claude_live(b"{", None).is_err());
        assert!(parse_claude_live(b"[1]", None).is_err());
        assert!(parse_claude_live(br#"{"pid":1}"#, None).is_err());
        assert!(parse_claude_live(br#"{"pid":"x","sessionId":"s"}"#, None).is_err());
        assert!(parse_claude_live(br#"{"pid":-4,"sessionId":"s"}"#, None).is_err());
        assert!(parse_claude_live(br#"{"sessionId":"s"}"#, None).is_err());
        let r = parse_claude_live(br#"{"sessionId":"s","startedAt":"soon"}"#, Some(9));
        assert_eq!(r.as_ref().ok().map(|r| r.pid), Some(9));
        assert_eq!(r.ok().map(|r| r.started_at), Some(None));
    }

    fn live(pid: u32, start: u64) -> ProcInfo {
        let mut p = ProcInfo::new(pid, 1, &["claude"]);
        p.start_ticks = start;
        p
    }

    #[test]
    fn reads_a_directory_and_drops_stale_files() {
        let home = tempfile::tempdir().ok();
        let Some(home) = home else { panic!("tempdir") };
        let dir = home.path().join(".claude/sessions");
        std::fs::create_dir_all(&dir).ok();
        let w = |name: &str, body: &str| std::fs::write(dir.join(name), body).ok();
        w("5196.json", SAMPLE);
        w("24700.json", PRINT_MODE);
        // Dead pid.
        w("31337.json", &SAMPLE.replace("5196", "31337"));
        // Pid alive but reused by a process started at other ticks.
        w("4000.json", &SAMPLE.replace("5196", "4000"));
        w("77.json", "{not json");
        w("notes.txt", "x");
        w("12.json.tmp", "x");
        let table = ProcessTable::from_procs(vec![
            live(5196, 26002),
            live(24700, 61900),
            live(4000, 11),
            live(77, 1),
        ]);
        let scan = read_claude_live_sessions(home.path(), &table);
        let mut pids: Vec<u32> = scan.sessions.keys().copied().collect();
        pids.sort();
        assert_eq!(pids, vec![5196, 24700]);
        let mut stale = scan.stale.clone();
        stale.sort();
        assert_eq!(stale, vec![4000, 31337]);
        assert_eq!(scan.warnings.len(), 1, "{:?}", scan.warnings);
        assert!(scan.warnings[0].contains("77.json"));
    }

    #[test]
    fn missing_directory_is_empty() {
        let scan =
            read_claude_live_sessions(Path::new("/nonexistent/aimux"), &ProcessTable::default());
        assert_eq!(scan, ClaudeLiveScan::default());
    }
}
