//! Live mode: N agents appending realistic records to their session files at a given
//! byte rate, one complete line per write (as the CLIs do), with wall-clock timestamps.

use crate::corpus::{Fillers, Kind, SessionWriter, make_projects, make_writer};
use crate::plan::{SessionTruth, plan_turn};
use crate::rng::Rng;
use crate::time::now_ms;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub out: PathBuf,
    pub sessions: usize,
    pub rate_bytes_per_sec: u64,
    pub duration: Duration,
    pub seed: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LiveReport {
    pub bytes: u64,
    pub lines: u64,
    pub seconds: f64,
    pub files: Vec<String>,
}

struct Agent {
    writer: Box<dyn SessionWriter + Send>,
    file: File,
    queue: VecDeque<String>,
    rng: Rng,
}

impl Agent {
    /// Plans the next turn (timestamped now) and queues its lines.
    fn plan_next_turn(&mut self, fillers: &Fillers) {
        let clock = self.writer.clock_mut();
        clock.t = clock.t.max(now_ms());
        let mut plan = plan_turn(&mut self.rng, &[], 200_000);
        plan.gap_ms = 0;
        let mut buf = String::new();
        self.writer.turn(&mut self.rng, fillers, &plan, &mut buf);
        self.queue
            .extend(buf.split_inclusive('\n').map(str::to_string));
    }
}

/// Session files of live agents, created on [`LiveWriters::start`] and grown by
/// [`LiveWriters::append_for`]. Keeps what it wrote so far in [`LiveWriters::report`].
pub struct LiveWriters {
    agents: Vec<Agent>,
    fillers: Fillers,
    pub report: LiveReport,
}

impl LiveWriters {
    /// Creates one session file per agent (providers in turn: Claude, Codex, Gemini) under
    /// `cfg.out`, with the records a CLI writes before the first prompt.
    pub fn start(cfg: &LiveConfig) -> io::Result<LiveWriters> {
        let mut rng = Rng::new(cfg.seed ^ 0x11FE);
        let fillers = Fillers::new(&mut rng.fork());
        let projects = make_projects(&mut rng);
        let start = now_ms();
        let mut agents = Vec::new();
        let mut report = LiveReport::default();
        for i in 0..cfg.sessions.max(1) {
            let kind = match i % 3 {
                0 => Kind::Claude,
                1 => Kind::Codex,
                _ => Kind::Gemini,
            };
            let mut arng = rng.fork();
            let project = rng.pick(&projects).clone();
            let mut writer = make_writer(kind, &mut arng, &project, start, i64::MAX);
            let path = cfg.out.join(writer.rel_path());
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
            let mut head = String::new();
            writer.begin(&mut arng, &fillers, &mut head);
            file.write_all(head.as_bytes())?;
            report.bytes += head.len() as u64;
            report.files.push(writer.rel_path().to_string());
            agents.push(Agent {
                writer,
                file,
                queue: VecDeque::new(),
                rng: arng,
            });
        }
        let truths: Vec<_> = agents.iter().map(|a| a.writer.truth().clone()).collect();
        crate::corpus::write_gemini_projects(&cfg.out, &projects, &truths)?;
        Ok(LiveWriters {
            agents,
            fillers,
            report,
        })
    }

    /// What each agent's file holds once every queued line is written (tokens, session id,
    /// path), in agent order.
    pub fn truths(&self) -> Vec<SessionTruth> {
        self.agents
            .iter()
            .map(|a| a.writer.truth().clone())
            .collect()
    }

    /// Writes one whole turn to every file at once (so each session has a prompt and an
    /// id before anyone looks for it).
    pub fn write_turn_each(&mut self) -> io::Result<()> {
        for agent in &mut self.agents {
            agent.plan_next_turn(&self.fillers);
        }
        self.flush()
    }

    /// Writes every queued line now: the files then hold exactly what [`Self::truths`] says.
    pub fn flush(&mut self) -> io::Result<()> {
        for agent in &mut self.agents {
            while let Some(line) = agent.queue.pop_front() {
                agent.file.write_all(line.as_bytes())?;
                self.report.bytes += line.len() as u64;
                self.report.lines += 1;
            }
        }
        Ok(())
    }

    /// Appends whole lines round-robin for `duration`, paced to `rate_bytes_per_sec` in total.
    /// Returns the bytes written by this call.
    pub fn append_for(&mut self, duration: Duration, rate_bytes_per_sec: u64) -> io::Result<u64> {
        let began = Instant::now();
        let rate = rate_bytes_per_sec.max(1) as f64;
        let mut written = 0u64;
        let mut i = 0usize;
        let n = self.agents.len();
        while began.elapsed() < duration {
            let Some(agent) = self.agents.get_mut(i % n.max(1)) else {
                break;
            };
            i += 1;
            if agent.queue.is_empty() {
                agent.plan_next_turn(&self.fillers);
            }
            if let Some(line) = agent.queue.pop_front() {
                agent.file.write_all(line.as_bytes())?;
                written += line.len() as u64;
                self.report.lines += 1;
            }
            let due = Duration::from_secs_f64(written as f64 / rate);
            let el = began.elapsed();
            if due > el {
                std::thread::sleep((due - el).min(duration.saturating_sub(el)));
            }
        }
        self.report.bytes += written;
        self.report.seconds += began.elapsed().as_secs_f64();
        Ok(written)
    }
}

pub fn run_live(cfg: &LiveConfig) -> io::Result<LiveReport> {
    let mut writers = LiveWriters::start(cfg)?;
    writers.append_for(cfg.duration, cfg.rate_bytes_per_sec)?;
    Ok(writers.report)
}
