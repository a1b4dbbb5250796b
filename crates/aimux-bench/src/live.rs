//! Live mode: N agents appending realistic records to their session files at a given
//! byte rate, one complete line per write (as the CLIs do), with wall-clock timestamps.

use crate::corpus::{Fillers, Kind, SessionWriter, make_projects, make_writer};
use crate::plan::plan_turn;
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

pub fn run_live(cfg: &LiveConfig) -> io::Result<LiveReport> {
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
    let began = Instant::now();
    let rate = cfg.rate_bytes_per_sec.max(1) as f64;
    let mut i = 0usize;
    while began.elapsed() < cfg.duration {
        let n = agents.len();
        let Some(agent) = agents.get_mut(i % n) else {
            break;
        };
        i += 1;
        if agent.queue.is_empty() {
            let clock = agent.writer.clock_mut();
            clock.t = clock.t.max(now_ms());
            let mut plan = plan_turn(&mut agent.rng, &[], 200_000);
            plan.gap_ms = 0;
            let mut buf = String::new();
            agent.writer.turn(&mut agent.rng, &fillers, &plan, &mut buf);
            agent
                .queue
                .extend(buf.split_inclusive('\n').map(str::to_string));
        }
        if let Some(line) = agent.queue.pop_front() {
            agent.file.write_all(line.as_bytes())?;
            report.bytes += line.len() as u64;
            report.lines += 1;
        }
        let due = Duration::from_secs_f64(report.bytes as f64 / rate);
        let el = began.elapsed();
        if due > el {
            std::thread::sleep((due - el).min(cfg.duration.saturating_sub(el)));
        }
    }
    report.seconds = began.elapsed().as_secs_f64();
    Ok(report)
}
