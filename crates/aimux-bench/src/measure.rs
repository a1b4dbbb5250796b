//! Runs a command and measures it: wall time, CPU time and peak RSS (from `wait4`'s rusage,
//! which covers the process and every descendant it waited for).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    /// Peak resident set size of the largest process in the tree, KiB.
    pub max_rss_kb: u64,
    /// Exit code; -1 when killed by a signal (or by the timeout).
    pub exit: i32,
}

impl Sample {
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// Spawns `cmd`, waits for it (killing it after `timeout`) and returns what it cost.
/// Redirect its stdout/stderr to files or null beforehand: pipes are not drained here.
pub fn measure(cmd: &mut Command, timeout: Duration) -> std::io::Result<Sample> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let step = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while waited < timeout {
                if done.load(Ordering::Acquire) {
                    return;
                }
                std::thread::sleep(step);
                waited += step;
            }
            if !done.load(Ordering::Acquire) {
                // SAFETY: plain syscall on a pid we spawned and have not reaped yet.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = loop {
        // SAFETY: waiting for our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall = start.elapsed();
    done.store(true, Ordering::Release);
    let _ = watchdog.join();
    drop(child); // already reaped by wait4; dropping a Child neither waits nor kills
    if r == -1 {
        return Err(std::io::Error::last_os_error());
    }
    let exit = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(Sample {
        wall_s: wall.as_secs_f64(),
        user_s: tv(ru.ru_utime),
        sys_s: tv(ru.ru_stime),
        max_rss_kb: ru.ru_maxrss.max(0) as u64,
        exit,
    })
}

/// Median of the wall times' samples (the sample itself, lower middle for even counts).
pub fn median(samples: &[Sample]) -> Option<Sample> {
    let mut v: Vec<Sample> = samples.to_vec();
    v.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    v.get(v.len().saturating_sub(1) / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_wall_cpu_rss_and_exit() {
        let s = measure(
            Command::new("sh").args(["-c", "sleep 0.2; exit 3"]),
            Duration::from_secs(20),
        )
        .expect("run sh");
        assert!(s.wall_s >= 0.2 && s.wall_s < 10.0, "{s:?}");
        assert_eq!(s.exit, 3);
        assert!(s.max_rss_kb > 0);
        // CPU-bound child: its CPU time is counted
        let s = measure(
            Command::new("sh").args(["-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done"]),
            Duration::from_secs(60),
        )
        .expect("run loop");
        assert_eq!(s.exit, 0);
        assert!(s.cpu_s() > 0.05, "{s:?}");
    }

    #[test]
    fn kills_on_timeout() {
        let s = measure(Command::new("sleep").arg("30"), Duration::from_millis(300))
            .expect("run sleep");
        assert_eq!(s.exit, -1);
        assert!(s.wall_s < 10.0);
    }

    #[test]
    fn median_picks_the_middle_wall_time() {
        let mk = |w| Sample {
            wall_s: w,
            ..Sample::default()
        };
        assert_eq!(
            median(&[mk(3.0), mk(1.0), mk(2.0)]).map(|s| s.wall_s),
            Some(2.0)
        );
        assert_eq!(median(&[mk(4.0), mk(1.0)]).map(|s| s.wall_s), Some(1.0));
        assert_eq!(median(&[]), None);
    }
}
