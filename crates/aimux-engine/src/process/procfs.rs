//! The process table, read natively from `/proc` (no `ps`, no subprocess).

use aimux_core::Timestamp;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

/// One process, as read from `/proc/<pid>/{stat,cmdline,exe,cwd}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub sid: i32,
    /// Foreground process group of the controlling terminal (-1 without one).
    pub tpgid: i32,
    /// Controlling terminal as a device number (0 = none) and, when recognised, its name
    /// (`pts/3`, `tty1`).
    pub tty_nr: u32,
    pub tty: Option<String>,
    /// State letter from `stat` (`R`, `S`, `D`, `Z`, …).
    pub state: char,
    /// Kernel name of the process (at most 15 bytes).
    pub comm: String,
    /// `/proc/<pid>/cmdline` split on NUL (empty for zombies).
    pub argv: Vec<String>,
    /// `readlink /proc/<pid>/exe`, without a trailing ` (deleted)`; `None` when unreadable.
    pub exe: Option<String>,
    /// `readlink /proc/<pid>/cwd`; `None` when unreadable.
    pub cwd: Option<String>,
    /// Start time in clock ticks after boot (`stat` field 22). Together with the pid it
    /// identifies a process across pid reuse (Claude's `procStart`).
    pub start_ticks: u64,
    /// Absolute start time (boot time + ticks / CLK_TCK), second-accurate.
    pub started_at: Option<Timestamp>,
    pub rss_bytes: u64,
    /// Cumulative user + system CPU in clock ticks.
    pub cpu_ticks: u64,
    /// CPU use since the previous scan of a [`ProcessScanner`], in percent of one core
    /// (can exceed 100 for multithreaded processes); `None` on the first sighting.
    pub cpu_percent: Option<f64>,
}

impl ProcInfo {
    /// A synthetic process for tests and tables built by hand; `comm` is taken from
    /// argv[0]'s basename (truncated like the kernel does).
    pub fn new(pid: u32, ppid: u32, argv: &[&str]) -> ProcInfo {
        let comm = argv
            .first()
            .map(|a| basename(a).chars().take(15).collect())
            .unwrap_or_default();
        ProcInfo {
            pid,
            ppid,
            pgrp: pid as i32,
            sid: pid as i32,
            tpgid: -1,
            tty_nr: 0,
            tty: None,
            state: 'S',
            comm,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            exe: None,
            cwd: None,
            start_ticks: u64::from(pid),
            started_at: None,
            rss_bytes: 0,
            cpu_ticks: 0,
            cpu_percent: None,
        }
    }

    pub fn with_exe(mut self, exe: &str) -> ProcInfo {
        self.exe = Some(exe.to_string());
        self
    }

    pub fn with_comm(mut self, comm: &str) -> ProcInfo {
        self.comm = comm.to_string();
        self
    }

    pub fn with_cwd(mut self, cwd: &str) -> ProcInfo {
        self.cwd = Some(cwd.to_string());
        self
    }

    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }

    /// argv[0]'s basename, or `comm` when argv is empty.
    pub fn name(&self) -> &str {
        match self.argv.first() {
            Some(a) if !a.is_empty() => basename(a),
            _ => &self.comm,
        }
    }
}

/// The last path component (`/usr/bin/node` → `node`; `C:\x\claude.exe` → `claude.exe`).
pub fn basename(path: &str) -> &str {
    let p = path.trim_end_matches(['/', '\\']);
    p.rsplit(['/', '\\']).next().unwrap_or(p)
}

/// One scan of `/proc`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProcessTable {
    pub procs: Vec<ProcInfo>,
    /// Clock ticks per second used for the time conversions.
    pub clk_tck: u64,
    pub boot_time: Option<Timestamp>,
    pub scanned_at: Option<Timestamp>,
    #[serde(skip)]
    index: HashMap<u32, usize>,
}

impl ProcessTable {
    /// A table from processes gathered elsewhere (tests, other platforms).
    pub fn from_procs(procs: Vec<ProcInfo>) -> ProcessTable {
        let index = procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect();
        ProcessTable {
            procs,
            clk_tck: 100,
            boot_time: None,
            scanned_at: None,
            index,
        }
    }

    pub fn get(&self, pid: u32) -> Option<&ProcInfo> {
        self.index.get(&pid).and_then(|&i| self.procs.get(i))
    }

    /// True when `pid` is alive and, if `start_ticks` is given, started at those ticks
    /// (so a reused pid does not pass for the old process).
    pub fn is_alive(&self, pid: u32, start_ticks: Option<u64>) -> bool {
        self.get(pid)
            .is_some_and(|p| !p.is_zombie() && start_ticks.is_none_or(|t| t == p.start_ticks))
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("process discovery needs Linux /proc; not available on this platform")]
    Unsupported,
    #[error("cannot list /proc: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the process table once, without CPU percentages.
pub fn read_process_table() -> Result<ProcessTable, ProcessError> {
    imp::read_table()
}

/// Keeps the previous sample so each scan also gives CPU % per process.
#[derive(Debug, Default)]
pub struct ProcessScanner {
    prev: HashMap<u32, (u64, u64)>,
    prev_at: Option<Instant>,
}

impl ProcessScanner {
    pub fn new() -> ProcessScanner {
        ProcessScanner::default()
    }

    /// Scans `/proc` and fills `cpu_percent` from the previous scan.
    pub fn scan(&mut self) -> Result<ProcessTable, ProcessError> {
        let mut table = imp::read_table()?;
        let procs = std::mem::take(&mut table.procs);
        // `apply` keeps order and length, so the table's pid index stays valid.
        table.procs = self.apply(procs, Instant::now(), table.clk_tck);
        Ok(table)
    }

    /// The pure half of [`ProcessScanner::scan`]: sets each process's `cpu_percent` from
    /// the ticks it used since the previous sample taken `at - prev_at` ago. A pid whose
    /// start ticks changed is a new process (pid reuse) and gets `None`.
    pub fn apply(&mut self, mut procs: Vec<ProcInfo>, at: Instant, clk_tck: u64) -> Vec<ProcInfo> {
        let elapsed = self
            .prev_at
            .map(|p| at.saturating_duration_since(p).as_secs_f64());
        let tck = clk_tck.max(1) as f64;
        for p in &mut procs {
            p.cpu_percent = match (self.prev.get(&p.pid), elapsed) {
                (Some(&(start, ticks)), Some(el)) if start == p.start_ticks && el > 0.0 => {
                    Some(p.cpu_ticks.saturating_sub(ticks) as f64 / tck / el * 100.0)
                }
                _ => None,
            };
        }
        self.prev = procs
            .iter()
            .map(|p| (p.pid, (p.start_ticks, p.cpu_ticks)))
            .collect();
        self.prev_at = Some(at);
        procs
    }
}

impl ProcessTable {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn with_meta(
        mut self,
        clk_tck: u64,
        boot_time: Option<Timestamp>,
        scanned_at: Option<Timestamp>,
    ) -> ProcessTable {
        self.index = self
            .procs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pid, i))
            .collect();
        self.clk_tck = clk_tck;
        self.boot_time = boot_time;
        self.scanned_at = scanned_at;
        self
    }
}

/// Fields of `/proc/<pid>/stat` that we use.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct Stat {
    pub comm: String,
    pub state: char,
    pub ppid: u32,
    pub pgrp: i32,
    pub sid: i32,
    pub tty_nr: u32,
    pub tpgid: i32,
    pub flags: u64,
    pub utime: u64,
    pub stime: u64,
    pub start_ticks: u64,
    pub rss_pages: u64,
}

/// Parses a `stat` line. `comm` may contain spaces and parentheses, so it is cut at the
/// *last* `)`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn parse_stat(line: &str) -> Option<Stat> {
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = line.get(close + 1..)?.split_whitespace().collect();
    // rest[0] is field 3 (state); field n is rest[n - 3].
    let f = |n: usize| rest.get(n - 3).copied();
    let num = |n: usize| f(n).and_then(|s| s.parse::<u64>().ok());
    let int = |n: usize| f(n).and_then(|s| s.parse::<i64>().ok());
    Some(Stat {
        comm,
        state: f(3)?.chars().next()?,
        ppid: u32::try_from(num(4)?).ok()?,
        pgrp: i32::try_from(int(5)?).ok()?,
        sid: i32::try_from(int(6)?).ok()?,
        tty_nr: u32::try_from(int(7)?).unwrap_or(0),
        tpgid: i32::try_from(int(8)?).unwrap_or(-1),
        flags: num(9)?,
        utime: num(14)?,
        stime: num(15)?,
        start_ticks: num(22)?,
        rss_pages: u64::try_from(int(24)?).unwrap_or(0),
    })
}

/// Name of a terminal device number: Unix98 ptys (majors 136–143) and virtual consoles.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn tty_name(tty_nr: u32) -> Option<String> {
    if tty_nr == 0 {
        return None;
    }
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        136..=143 => Some(format!("pts/{}", (major - 136) * 256 + minor)),
        4 if minor < 64 => Some(format!("tty{minor}")),
        4 => Some(format!("ttyS{}", minor - 64)),
        5 if minor == 0 => Some("tty".into()),
        _ => Some(format!("{major}:{minor}")),
    }
}

/// `cmdline` bytes → argv. A process that rewrote its title may leave one
/// space-separated string; that is kept as is.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn split_cmdline(bytes: &[u8]) -> Vec<String> {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    if trimmed.is_empty() {
        return Vec::new();
    }
    trimmed
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The `btime` line of `/proc/stat`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn parse_btime(stat: &str) -> Option<i64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Boot time + ticks → absolute time.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn ticks_to_time(btime: i64, ticks: u64, clk_tck: u64) -> Option<Timestamp> {
    let tck = clk_tck.max(1);
    let secs = i64::try_from(ticks / tck).ok()?;
    let nanos = u32::try_from((ticks % tck) * 1_000_000_000 / tck).ok()?;
    DateTime::<Utc>::from_timestamp(btime.checked_add(secs)?, nanos)
}

/// Reads `AT_CLKTCK` (17) and `AT_PAGESZ` (6) from an auxv image (native-endian words).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) fn parse_auxv(bytes: &[u8]) -> (Option<u64>, Option<u64>) {
    const W: usize = std::mem::size_of::<usize>();
    let mut clk = None;
    let mut page = None;
    let word = |c: &[u8]| -> Option<u64> {
        let arr: [u8; W] = c.try_into().ok()?;
        Some(usize::from_ne_bytes(arr) as u64)
    };
    let mut chunks = bytes.chunks_exact(2 * W);
    for pair in &mut chunks {
        let (Some(key), Some(val)) = (word(&pair[..W]), word(&pair[W..])) else {
            break;
        };
        match key {
            0 => break,
            17 if val > 0 => clk = Some(val),
            6 if val > 0 => page = Some(val),
            _ => {}
        }
    }
    (clk, page)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use std::fs;
    use std::io::ErrorKind;
    use std::path::Path;
    use std::sync::OnceLock;

    const PF_KTHREAD: u64 = 0x0020_0000;

    struct SysInfo {
        clk_tck: u64,
        page_size: u64,
        btime: Option<i64>,
    }

    fn sysinfo() -> &'static SysInfo {
        static INFO: OnceLock<SysInfo> = OnceLock::new();
        INFO.get_or_init(|| {
            let (clk, page) = fs::read("/proc/self/auxv")
                .map(|b| parse_auxv(&b))
                .unwrap_or((None, None));
            SysInfo {
                clk_tck: clk.unwrap_or(100),
                page_size: page.unwrap_or(4096),
                btime: fs::read_to_string("/proc/stat")
                    .ok()
                    .and_then(|s| parse_btime(&s)),
            }
        })
    }

    fn link(path: &Path) -> Option<String> {
        let target = fs::read_link(path).ok()?;
        let s = target.to_string_lossy();
        Some(s.strip_suffix(" (deleted)").unwrap_or(&s).to_string())
    }

    fn read_one(pid: u32, info: &SysInfo) -> Option<ProcInfo> {
        let dir = Path::new("/proc").join(pid.to_string());
        // Vanished or unreadable: skip.
        let stat = parse_stat(&fs::read_to_string(dir.join("stat")).ok()?)?;
        if stat.flags & PF_KTHREAD != 0 {
            return None;
        }
        let argv = match fs::read(dir.join("cmdline")) {
            Ok(b) => split_cmdline(&b),
            Err(e) if e.kind() == ErrorKind::NotFound => return None,
            Err(_) => Vec::new(),
        };
        Some(ProcInfo {
            pid,
            ppid: stat.ppid,
            pgrp: stat.pgrp,
            sid: stat.sid,
            tpgid: stat.tpgid,
            tty_nr: stat.tty_nr,
            tty: tty_name(stat.tty_nr),
            state: stat.state,
            comm: stat.comm,
            argv,
            exe: link(&dir.join("exe")),
            cwd: link(&dir.join("cwd")),
            start_ticks: stat.start_ticks,
            started_at: info
                .btime
                .and_then(|b| ticks_to_time(b, stat.start_ticks, info.clk_tck)),
            rss_bytes: stat.rss_pages.saturating_mul(info.page_size),
            cpu_ticks: stat.utime.saturating_add(stat.stime),
            cpu_percent: None,
        })
    }

    pub(super) fn read_table() -> Result<ProcessTable, ProcessError> {
        let info = sysinfo();
        let mut procs = Vec::new();
        for entry in fs::read_dir("/proc")? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(p) = read_one(pid, info) {
                procs.push(p);
            }
        }
        procs.sort_by_key(|p| p.pid);
        Ok(ProcessTable::from_procs(procs).with_meta(
            info.clk_tck,
            info.btime
                .and_then(|b| DateTime::<Utc>::from_timestamp(b, 0)),
            Some(Utc::now()),
        ))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    pub(super) fn read_table() -> Result<ProcessTable, ProcessError> {
        Err(ProcessError::Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let line = "4242 (my (odd) proc) S 1 4242 4242 34817 4300 4194560 10 0 0 0 \
                    250 50 0 0 20 0 3 0 61804 123456 7000 18446744073709551615";
        let s = parse_stat(line);
        assert_eq!(
            s,
            Some(Stat {
                comm: "my (odd) proc".into(),
                state: 'S',
                ppid: 1,
                pgrp: 4242,
                sid: 4242,
                tty_nr: 34817,
                tpgid: 4300,
                flags: 4194560,
                utime: 250,
                stime: 50,
                start_ticks: 61804,
                rss_pages: 7000,
            })
        );
    }

    #[test]
    fn real_stat_line() {
        // Captured from this machine (`cat /proc/self/stat`).
        let line = "9170 (cat) R 9166 9166 8397 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 \
                    38247 3133440 406 18446744073709551615 94359654502400";
        let s = parse_stat(line);
        assert_eq!(s.as_ref().map(|s| s.ppid), Some(9166));
        assert_eq!(s.as_ref().map(|s| s.tpgid), Some(-1));
        assert_eq!(s.as_ref().map(|s| s.start_ticks), Some(38247));
        assert_eq!(s.as_ref().map(|s| s.rss_pages), Some(406));
    }

    #[test]
    fn truncated_or_garbage_stat_is_none() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("12 (x) S 1 2 3"), None);
        assert_eq!(
            parse_stat("12 x S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21"),
            None
        );
        assert_eq!(
            parse_stat(
                "12 (x) S notanumber 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"
            ),
            None
        );
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), None);
        assert_eq!(tty_name(34816).as_deref(), Some("pts/0"));
        assert_eq!(tty_name(34817 + 2).as_deref(), Some("pts/3"));
        // pts/300: major 137, minor 44.
        assert_eq!(tty_name((137 << 8) | 44).as_deref(), Some("pts/300"));
        assert_eq!(tty_name((4 << 8) | 1).as_deref(), Some("tty1"));
        assert_eq!(tty_name((4 << 8) | 65).as_deref(), Some("ttyS1"));
    }

    #[test]
    fn cmdline_splitting() {
        assert_eq!(split_cmdline(b""), Vec::<String>::new());
        assert_eq!(split_cmdline(b"sleep\x0030\x00"), vec!["sleep", "30"]);
        assert_eq!(split_cmdline(b"a\x00\x00b\x00"), vec!["a", "", "b"]);
        assert_eq!(
            split_cmdline(b"node server title"),
            vec!["node server title"]
        );
        assert_eq!(split_cmdline(b"x\xff\x00"), vec!["x\u{fffd}"]);
    }

    #[test]
    fn btime_and_tick_conversion() {
        let stat = "cpu  1 2 3\nintr 5\nbtime 1795776949\nprocesses 10\n";
        assert_eq!(parse_btime(stat), Some(1795776949));
        assert_eq!(parse_btime("cpu 1\n"), None);
        let t = ticks_to_time(1_000, 12_345, 100);
        assert_eq!(t.map(|t| t.timestamp()), Some(1_123));
        assert_eq!(t.map(|t| t.timestamp_subsec_millis()), Some(450));
        assert!(ticks_to_time(i64::MAX, 1_000, 100).is_none());
    }

    #[test]
    fn auxv_parsing() {
        let mut b = Vec::new();
        for (k, v) in [(33usize, 7usize), (6, 16384), (17, 250), (0, 0), (17, 1)] {
            b.extend_from_slice(&k.to_ne_bytes());
            b.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(parse_auxv(&b), (Some(250), Some(16384)));
        assert_eq!(parse_auxv(&b[..5]), (None, None));
    }

    #[test]
    fn basenames() {
        assert_eq!(basename("/usr/bin/node"), "node");
        assert_eq!(basename("node"), "node");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(basename(r"C:\x\claude.exe"), "claude.exe");
        assert_eq!(basename(""), "");
    }

    #[test]
    fn cpu_percent_between_samples() {
        let mut sc = ProcessScanner::new();
        let t = Instant::now();
        let mut a = ProcInfo::new(10, 1, &["busy"]);
        a.cpu_ticks = 1_000;
        let mut b = ProcInfo::new(11, 1, &["quiet"]);
        b.cpu_ticks = 5;
        let first = sc.apply(vec![a.clone(), b.clone()], t, 100);
        assert!(first.iter().all(|p| p.cpu_percent.is_none()));
        // 2 s later: a used 150 ticks (1.5 s of CPU = 75 %), b nothing; 12 is new.
        a.cpu_ticks = 1_150;
        let c = ProcInfo::new(12, 1, &["new"]);
        let later = t + std::time::Duration::from_secs(2);
        let second = sc.apply(vec![a.clone(), b.clone(), c], later, 100);
        let pct: Vec<Option<f64>> = second.iter().map(|p| p.cpu_percent).collect();
        assert_eq!(pct, vec![Some(75.0), Some(0.0), None]);
        // pid 10 reused by another process (different start ticks): no percentage.
        let mut reused = ProcInfo::new(10, 1, &["other"]);
        reused.start_ticks = 99_999;
        reused.cpu_ticks = 5_000;
        let third = sc.apply(vec![reused], later + std::time::Duration::from_secs(1), 100);
        assert_eq!(third[0].cpu_percent, None);
    }

    #[test]
    fn table_lookup_and_liveness() {
        let mut z = ProcInfo::new(3, 1, &[]);
        z.state = 'Z';
        let t = ProcessTable::from_procs(vec![ProcInfo::new(2, 1, &["x"]), z]);
        assert_eq!(t.get(2).map(|p| p.comm.as_str()), Some("x"));
        assert!(t.is_alive(2, None));
        assert!(t.is_alive(2, Some(2)));
        assert!(!t.is_alive(2, Some(3)));
        assert!(!t.is_alive(3, None));
        assert!(!t.is_alive(4, None));
        assert_eq!(t.get(3).map(|p| p.name()), Some(""));
    }
}
