//! Acting on agents. Kill ends an agent's process group (TERM, then KILL after a grace
//! period) — and only an agent: the pid is checked against a fresh process table first,
//! so a stale row can never kill a process that reused the pid.

use crate::process::{group_agents, read_process_table};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("pid {0} is not a running agent (it may have exited already)")]
    NotAnAgent(u32),
    #[error("cannot read the process table: {0}")]
    ProcessTable(String),
    #[error("cannot signal pid {pid}: {source}")]
    Signal { pid: u32, source: std::io::Error },
    #[error("pid {0} is still alive after SIGKILL")]
    Survived(u32),
}

fn signal(target: i32, sig: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions; errors come back as -1/errno.
    let rc = unsafe { libc::kill(target, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent's wait is missing.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Ends the agent whose top process is `pid`: SIGTERM to its process group when it leads
/// one (so its tools go too), else to the process and its core processes; SIGKILL after
/// `grace`. When aimux started it (its tmux session is named `aimux-…`), that session is
/// ended too. Returns a human summary.
pub fn kill_agent(pid: u32, grace: Duration) -> Result<String, ActionError> {
    let spawned = crate::tmux::find_agent_pane(pid, crate::live::tmux_target(pid).as_deref())
        .filter(|p| p.spawned_by_aimux());
    let mut summary = kill_agent_processes(pid, grace)?;
    if let Some(p) = spawned
        && p.tmux.has_session(&p.pane.session)
        && p.tmux.kill_session(&p.pane.session).is_ok()
    {
        summary.push_str(&format!("; tmux session {} closed", p.pane.session));
    }
    Ok(summary)
}

fn kill_agent_processes(pid: u32, grace: Duration) -> Result<String, ActionError> {
    let table = read_process_table().map_err(|e| ActionError::ProcessTable(e.to_string()))?;
    let tree = group_agents(&table.procs);
    let agent = tree
        .iter()
        .find(|a| a.pid == pid)
        .ok_or(ActionError::NotAnAgent(pid))?;
    let own = table.procs.iter().find(|p| p.pid == pid);
    let leads_group = own.is_some_and(|p| p.pgrp == pid as i32);
    let mut targets: Vec<u32> = vec![pid];
    targets.extend(agent.children.iter().map(|c| c.process.pid));
    let send = |sig: i32| -> Result<(), ActionError> {
        if leads_group {
            match signal(-(pid as i32), sig) {
                Ok(()) => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(()),
                Err(source) => return Err(ActionError::Signal { pid, source }),
            }
        }
        for &t in &targets {
            match signal(t as i32, sig) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Err(source) => return Err(ActionError::Signal { pid: t, source }),
            }
        }
        Ok(())
    };
    send(libc::SIGTERM)?;
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid) {
            return Ok(format!(
                "{} agent {pid} ended (SIGTERM{})",
                agent.provider,
                if leads_group {
                    " to its process group"
                } else {
                    ""
                }
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    send(libc::SIGKILL)?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !alive(pid) {
            return Ok(format!(
                "{} agent {pid} ended (SIGKILL after {} s)",
                agent.provider,
                grace.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(ActionError::Survived(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_pid_that_is_not_an_agent() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let err = kill_agent(child.id(), Duration::from_millis(100)).expect_err("not an agent");
        assert!(matches!(err, ActionError::NotAnAgent(_)));
        assert!(alive(child.id()), "the non-agent was left alone");
        let _ = child.kill();
        let _ = child.wait();
    }
}
