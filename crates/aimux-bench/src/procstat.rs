//! What a running process has cost so far, read from `/proc` (Linux): CPU time, bytes
//! read, resident memory. Also the calling thread's own CPU time.

use std::fs;
use std::io;

/// utime + stime of `pid` (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    cpu_seconds_of_stat(&stat, clock_ticks())
        .ok_or_else(|| io::Error::other(format!("/proc/{pid}/stat: unexpected format")))
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Fields 14 and 15 of `/proc/PID/stat`, counted after the command name (which may hold
/// spaces and parentheses, so the fields start after the last `)`).
fn cpu_seconds_of_stat(stat: &str, ticks_per_s: f64) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14 → index 11.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_s)
}

/// `rchar` of `/proc/PID/io`: bytes the process asked `read` for (page cache included).
pub fn bytes_read(pid: u32) -> io::Result<u64> {
    let io = fs::read_to_string(format!("/proc/{pid}/io"))?;
    field(&io, "rchar:").ok_or_else(|| io::Error::other(format!("/proc/{pid}/io: no rchar")))
}

/// Resident memory of `pid`, KiB: (peak `VmHWM`, current `VmRSS`).
pub fn memory_kb(pid: u32) -> io::Result<(u64, u64)> {
    let st = fs::read_to_string(format!("/proc/{pid}/status"))?;
    match (field(&st, "VmHWM:"), field(&st, "VmRSS:")) {
        (Some(h), Some(r)) => Ok((h, r)),
        _ => Err(io::Error::other(format!(
            "/proc/{pid}/status: no VmHWM/VmRSS"
        ))),
    }
}

fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU time (user + system) of the calling thread, in seconds.
pub fn thread_cpu_seconds() -> f64 {
    // SAFETY: rusage is plain old data; getrusage fills it in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer; RUSAGE_THREAD is Linux's per-thread usage.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0";
        assert_eq!(cpu_seconds_of_stat(stat, 100.0), Some(3.0));
        assert_eq!(cpu_seconds_of_stat("garbage", 100.0), None);
        assert_eq!(cpu_seconds_of_stat("1 (x) S 1", 100.0), None);
    }

    #[test]
    fn this_process_is_measurable() {
        let me = std::process::id();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(cpu_seconds(me).expect("stat") > 0.0);
        assert!(thread_cpu_seconds() > 0.0);
        let (hwm, rss) = memory_kb(me).expect("status");
        assert!(hwm >= rss && rss > 0);
        let before = bytes_read(me).expect("io");
        let _ = fs::read("/proc/self/status");
        assert!(bytes_read(me).expect("io") > before);
    }
}
