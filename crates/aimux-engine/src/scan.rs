//! Brings the index up to date with the session files on disk, reading only new bytes.

use crate::index::{
    CachedFile, FileIdentity, Index, IndexError, Persist, Prepared, state_update, summarize,
};
use crate::sources::{FileFormat, SessionFileRef, Warning, all_sources};
use aimux_core::parsers::SessionFileParser;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes handed to a parser at a time, so a huge file never sits in memory whole.
const READ_CHUNK: usize = 8 * 1024 * 1024;

/// What a scan did; `parsed + resumed + unchanged` = files seen.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ScanReport {
    pub files: usize,
    /// Parsed from the start (new, replaced, or not resumable).
    pub parsed: usize,
    /// Grown files continued from their last offset.
    pub resumed: usize,
    pub unchanged: usize,
    pub removed: usize,
    pub bytes_read: u64,
    pub warnings: Vec<Warning>,
}

/// Progress callback: (files done, files to parse).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

enum Plan {
    Full,
    Resume { id: i64, offset: u64 },
}

struct Job<'a> {
    file: &'a SessionFileRef,
    identity: FileIdentity,
    plan: Plan,
}

struct Done {
    path: String,
    identity: FileIdentity,
    parser: SessionFileParser,
    prepared: Prepared,
    resumed: bool,
    bytes: u64,
}

/// Files written to within this span keep a resume state in the index; older files
/// rarely grow, and if one does it is simply parsed again. Saves most of a cold scan's
/// writing.
const RESUMABLE_FOR: std::time::Duration = std::time::Duration::from_secs(3 * 24 * 3600);

fn recent_cutoff_ns() -> i64 {
    std::time::SystemTime::now()
        .checked_sub(RESUMABLE_FOR)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

pub fn file_identity(meta: &std::fs::Metadata) -> FileIdentity {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            size: meta.len(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            inode: meta.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        FileIdentity {
            size: meta.len(),
            mtime_ns,
            inode: 0,
        }
    }
}

/// Enumerates every provider's session files under `home`.
pub fn enumerate(home: &Path, warnings: &mut Vec<Warning>) -> Vec<SessionFileRef> {
    let mut files = Vec::new();
    for source in all_sources() {
        // A provider that panics while listing must not take the others down.
        let mut found = Vec::new();
        let mut w = Vec::new();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            source.session_files(home, &mut found, &mut w)
        }));
        warnings.append(&mut w);
        match outcome {
            Ok(()) => files.append(&mut found),
            Err(_) => warnings.push(Warning {
                provider: Some(source.provider()),
                file: source.data_dir(home).display().to_string(),
                skipped_records: 0,
                message: "provider failed while listing its files".into(),
            }),
        }
    }
    files
}

/// Scans every session file under `home` and updates `index`; files gone from disk leave
/// the index.
pub fn scan(
    home: &Path,
    index: &mut Index,
    progress: Option<Progress<'_>>,
) -> Result<ScanReport, IndexError> {
    scan_with(home, index, progress, Text::Index)
}

/// Whether a scan feeds the full-text search index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// Index the text of new bytes, and bring every file the search index lacks up to
    /// date (search, history, the dashboard's background work).
    Index,
    /// Numbers only (`costs`, `sessions`, live refreshes): files parsed now are marked
    /// as not yet searchable and indexed by the next `Text::Index` scan.
    Skip,
}

/// [`scan`], choosing whether text is indexed for search.
pub fn scan_with(
    home: &Path,
    index: &mut Index,
    progress: Option<Progress<'_>>,
    text: Text,
) -> Result<ScanReport, IndexError> {
    let mut warnings = Vec::new();
    let files = enumerate(home, &mut warnings);
    let mut report = update(&files, true, index, progress, text, None)?;
    warnings.append(&mut report.warnings);
    report.warnings = warnings;
    Ok(report)
}

/// Brings only `files` up to date (the live loop's hot set: files of running agents),
/// without listing directories or forgetting anything.
pub fn scan_files(files: &[SessionFileRef], index: &mut Index) -> Result<ScanReport, IndexError> {
    update(files, false, index, None, Text::Skip, None)
}

/// Parsers of hot files (running agents' sessions) kept in memory between refreshes, so
/// a tick reads and parses only the appended bytes — no resume state is loaded or
/// rewritten per tick.
pub type HotParsers = HashMap<String, SessionFileParser>;

/// [`scan_files`] with in-memory parsers for the files; `hot` is updated.
pub fn scan_hot_files(
    files: &[SessionFileRef],
    index: &mut Index,
    hot: &mut HotParsers,
) -> Result<ScanReport, IndexError> {
    update(files, false, index, None, Text::Skip, Some(hot))
}

fn update(
    files: &[SessionFileRef],
    forget_missing: bool,
    index: &mut Index,
    progress: Option<Progress<'_>>,
    text: Text,
    mut hot: Option<&mut HotParsers>,
) -> Result<ScanReport, IndexError> {
    let index_text = text == Text::Index;
    let persist = if hot.is_some() {
        Persist::Keep
    } else {
        Persist::RecentFiles
    };
    let mut report = ScanReport {
        files: files.len(),
        ..ScanReport::default()
    };
    let cached: HashMap<String, CachedFile> = index.cached_files()?.into_iter().collect();
    let mut seen: HashMap<&str, ()> = HashMap::with_capacity(files.len());

    let mut jobs = Vec::new();
    let mut touched = Vec::new();
    for file in files {
        let Some(path) = file.path.to_str() else {
            report.warnings.push(Warning {
                provider: Some(file.provider),
                file: file.path.display().to_string(),
                skipped_records: 0,
                message: "path is not valid UTF-8; skipped".into(),
            });
            continue;
        };
        seen.insert(path, ());
        // An opencode session is rows of a database, not a file: its own identity, and
        // never resumed from an offset.
        let rows = crate::opencode::is_session_path(&file.path);
        let identity = if rows {
            crate::opencode::session_identity(&file.path)
        } else {
            std::fs::metadata(&file.path).map(|m| file_identity(&m))
        };
        let identity = match identity {
            Ok(i) => i,
            Err(e) => {
                report
                    .warnings
                    .push(Warning::io(file.provider, &file.path, &e));
                continue;
            }
        };
        match cached.get(path) {
            // Text the search index lacks is read again in full: the resume state keeps
            // only cut texts.
            Some(c) if index_text && !c.searchable => jobs.push(Job {
                file,
                identity,
                plan: Plan::Full,
            }),
            Some(c) if c.identity == identity => report.unchanged += 1,
            Some(c)
                if file.format == FileFormat::Jsonl
                    && !rows
                    && c.identity.inode == identity.inode
                    && identity.size >= c.identity.size
                    && identity.size >= c.offset =>
            {
                if identity.size == c.identity.size && identity.size == c.offset {
                    // Only the timestamp moved; nothing new to read.
                    touched.push((c.id, identity));
                    report.unchanged += 1;
                } else {
                    jobs.push(Job {
                        file,
                        identity,
                        plan: Plan::Resume {
                            id: c.id,
                            offset: c.offset,
                        },
                    });
                }
            }
            _ => jobs.push(Job {
                file,
                identity,
                plan: Plan::Full,
            }),
        }
    }

    // Resume states are loaded up front: the connection is not shared with workers.
    let mut resume_states: HashMap<i64, SessionFileParser> = HashMap::new();
    for job in &jobs {
        if let Plan::Resume { id, offset } = job.plan {
            let in_memory = hot
                .as_deref_mut()
                .and_then(|h| h.remove(job.file.path.to_string_lossy().as_ref()))
                .filter(|p| p.offset() == offset);
            let parser = match in_memory {
                Some(p) => Some(p),
                None => index.load_parser(id)?,
            };
            if let Some(p) = parser {
                resume_states.insert(id, p);
            }
        }
    }
    let resume_states = Mutex::new(resume_states);

    let total = jobs.len();
    let done_count = AtomicUsize::new(0);
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(total.max(1));
    let recent_cutoff = recent_cutoff_ns();
    let tx = index.begin()?;
    let sql = |e: rusqlite::Error| IndexError::Sqlite {
        path: "index".into(),
        source: e,
    };
    for (id, identity) in touched {
        Index::touch(&tx, id, identity).map_err(sql)?;
    }
    // Workers parse and prepare rows in parallel; this thread is the index's only writer
    // and stores each file as it arrives, so memory holds a few files, not the history.
    let (send, receive) = std::sync::mpsc::sync_channel::<Result<Done, Warning>>(workers * 2);
    let mut store_error = None;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let send = send.clone();
            let (jobs, next, resume_states, done_count) =
                (&jobs, &next, &resume_states, &done_count);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let prior = match job.plan {
                        Plan::Resume { id, offset } => resume_states
                            .lock()
                            .ok()
                            .and_then(|mut m| m.remove(&id))
                            .filter(|p| p.offset() == offset),
                        Plan::Full => None,
                    };
                    let result = run_job(job, prior, recent_cutoff, persist);
                    if send.send(result).is_err() {
                        break;
                    }
                    let n = done_count.fetch_add(1, Ordering::Relaxed) + 1;
                    if let Some(cb) = progress {
                        cb(n, total);
                    }
                }
            });
        }
        drop(send);
        for result in receive {
            if store_error.is_some() {
                continue;
            }
            match result {
                Ok(done) => {
                    if done.resumed {
                        report.resumed += 1;
                    } else {
                        report.parsed += 1;
                    }
                    report.bytes_read += done.bytes;
                    let stored =
                        Index::store(&tx, &done.path, done.identity, &done.prepared, index_text)
                            // Full-text search: fed from the fresh parse, before texts are cut.
                            .and_then(|()| {
                                if index_text {
                                    crate::search::index_parsed(&tx, &done.path, &done.parser)
                                        .map(drop)
                                } else {
                                    Ok(())
                                }
                            });
                    match stored {
                        Err(e) => store_error = Some(e),
                        Ok(()) => {
                            if let Some(h) = hot.as_deref_mut() {
                                h.insert(done.path, done.parser);
                            }
                        }
                    }
                }
                Err(w) => report.warnings.push(w),
            }
        }
    });
    if let Some(e) = store_error {
        return Err(sql(e));
    }
    for (path, c) in &cached {
        if forget_missing && !seen.contains_key(path.as_str()) {
            Index::forget(&tx, c.id).map_err(sql)?;
            report.removed += 1;
        }
    }
    tx.commit().map_err(sql)?;
    Ok(report)
}

fn run_job(
    job: &Job<'_>,
    prior: Option<SessionFileParser>,
    recent_cutoff_ns: i64,
    persist: Persist,
) -> Result<Done, Warning> {
    let file = job.file;
    let path = file.path.to_string_lossy().into_owned();
    let resumed = prior.is_some();
    let mut parser = prior.unwrap_or_else(|| SessionFileParser::new(file.provider));
    let start = parser.offset();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        read_into(&file.path, file.format, start, &mut parser)
    }));
    match outcome {
        Ok(Ok(bytes)) => {
            let recent = job.identity.mtime_ns >= recent_cutoff_ns;
            let summary = summarize(&path, &parser, job.identity.size);
            let state = state_update(&parser, persist, recent);
            let prepared = Prepared::new(&parser, summary, state);
            Ok(Done {
                path,
                identity: job.identity,
                parser,
                prepared,
                resumed,
                bytes,
            })
        }
        Ok(Err(e)) => Err(Warning::io(file.provider, &file.path, &e)),
        Err(_) => Err(Warning {
            provider: Some(file.provider),
            file: path,
            skipped_records: 0,
            message: "parser failed on this file; skipped".into(),
        }),
    }
}

/// Feeds the file's bytes from `start` to `parser`; returns bytes read.
pub fn read_into(
    path: &Path,
    format: FileFormat,
    start: u64,
    parser: &mut SessionFileParser,
) -> std::io::Result<u64> {
    if crate::opencode::is_session_path(path) {
        return crate::opencode::read_session(path, parser);
    }
    let mut f = File::open(path)?;
    match format {
        FileFormat::WholeJson => {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)?;
            parser.parse_whole_json(&buf);
            Ok(buf.len() as u64)
        }
        FileFormat::Jsonl => {
            if start > 0 {
                f.seek(SeekFrom::Start(start))?;
            }
            // Sized to what is left of the file and never zero-filled: a fresh 8 MiB
            // zeroed buffer per file once cost more CPU than parsing.
            let remaining = f.metadata()?.len().saturating_sub(start);
            let mut buf =
                Vec::with_capacity(remaining.clamp(64 * 1024, READ_CHUNK as u64) as usize);
            let mut total = 0u64;
            loop {
                buf.clear();
                // `read_to_end` reads into the spare capacity without initialising it.
                let n = (&mut f).take(READ_CHUNK as u64).read_to_end(&mut buf)?;
                if n == 0 {
                    break;
                }
                total += n as u64;
                parser.feed(&buf);
            }
            Ok(total)
        }
    }
}

/// Parses one file from scratch (full content, nothing from the index).
pub fn parse_file(file: &SessionFileRef) -> std::io::Result<SessionFileParser> {
    let mut parser = SessionFileParser::new(file.provider);
    read_into(&file.path, file.format, 0, &mut parser)?;
    Ok(parser)
}
