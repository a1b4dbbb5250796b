//! Where each provider keeps its session files, and how to enumerate them.
//!
//! A provider's data directory that is missing is normal (the CLI is not installed); one
//! that cannot be read is reported as a warning and the other providers carry on.

use aimux_core::Provider;
use serde::Serialize;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

/// How a session file is laid out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FileFormat {
    /// One JSON record per line, appended to: tailed by offset.
    Jsonl,
    /// One JSON document rewritten whole (Gemini's older `session-*.json`).
    WholeJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFileRef {
    pub provider: Provider,
    pub path: PathBuf,
    pub format: FileFormat,
}

/// Something that went wrong while reading provider data; never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub provider: Option<Provider>,
    pub file: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_records: u64,
    pub message: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Warning {
    pub fn io(provider: Provider, path: &Path, err: &std::io::Error) -> Warning {
        Warning {
            provider: Some(provider),
            file: path.display().to_string(),
            skipped_records: 0,
            message: format!("cannot read: {err}"),
        }
    }
}

/// One provider's on-disk layout. Adding a provider means one implementation of this
/// trait (plus its parser in aimux-core) registered in [`all_sources`].
pub trait ProviderSource: Send + Sync {
    fn provider(&self) -> Provider;
    /// The provider's data directory under `home`.
    fn data_dir(&self, home: &Path) -> PathBuf;
    /// Every session file under `home`.
    fn session_files(
        &self,
        home: &Path,
        out: &mut Vec<SessionFileRef>,
        warnings: &mut Vec<Warning>,
    );
    /// Titles the provider keeps outside the session files (session id → title).
    fn titles(&self, _home: &Path, _warnings: &mut Vec<Warning>) -> HashMap<String, String> {
        HashMap::new()
    }
}

pub fn all_sources() -> Vec<Box<dyn ProviderSource>> {
    vec![
        Box::new(ClaudeSource),
        Box::new(CodexSource),
        Box::new(GeminiSource),
        Box::new(crate::opencode::OpencodeSource),
    ]
}

pub fn source_for(provider: Provider) -> Box<dyn ProviderSource> {
    all_sources()
        .into_iter()
        .find(|s| s.provider() == provider)
        .unwrap_or_else(|| Box::new(ClaudeSource))
}

/// Lists a directory; a missing directory is empty, any other error is a warning.
pub fn read_dir_or_warn(
    provider: Provider,
    dir: &Path,
    warnings: &mut Vec<Warning>,
) -> Vec<fs::DirEntry> {
    match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            warnings.push(Warning::io(provider, dir, &e));
            Vec::new()
        }
    }
}

fn is_dir(entry: &fs::DirEntry) -> bool {
    entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
}

fn name_of(entry: &fs::DirEntry) -> String {
    entry.file_name().to_string_lossy().into_owned()
}

pub struct ClaudeSource;

impl ProviderSource for ClaudeSource {
    fn provider(&self) -> Provider {
        Provider::Claude
    }

    fn data_dir(&self, home: &Path) -> PathBuf {
        home.join(".claude")
    }

    fn session_files(
        &self,
        home: &Path,
        out: &mut Vec<SessionFileRef>,
        warnings: &mut Vec<Warning>,
    ) {
        let projects = self.data_dir(home).join("projects");
        for project in read_dir_or_warn(Provider::Claude, &projects, warnings) {
            if !is_dir(&project) {
                continue;
            }
            for entry in read_dir_or_warn(Provider::Claude, &project.path(), warnings) {
                let name = name_of(&entry);
                if name.ends_with(".jsonl") && !is_dir(&entry) {
                    out.push(jsonl(Provider::Claude, entry.path()));
                } else if is_dir(&entry) {
                    // Newer Claude Code keeps subagent transcripts in <session>/subagents/.
                    let sub = entry.path().join("subagents");
                    for f in read_dir_or_warn(Provider::Claude, &sub, warnings) {
                        if name_of(&f).ends_with(".jsonl") {
                            out.push(jsonl(Provider::Claude, f.path()));
                        }
                    }
                }
            }
        }
    }
}

pub struct CodexSource;

impl ProviderSource for CodexSource {
    fn provider(&self) -> Provider {
        Provider::Codex
    }

    fn data_dir(&self, home: &Path) -> PathBuf {
        home.join(".codex")
    }

    fn session_files(
        &self,
        home: &Path,
        out: &mut Vec<SessionFileRef>,
        warnings: &mut Vec<Warning>,
    ) {
        let root = self.data_dir(home);
        for sub in ["sessions", "archived_sessions"] {
            walk_rollouts(&root.join(sub), 0, out, warnings);
        }
    }

    fn titles(&self, home: &Path, warnings: &mut Vec<Warning>) -> HashMap<String, String> {
        let path = self.data_dir(home).join("session_index.jsonl");
        let mut titles = HashMap::new();
        let text = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return titles,
            Err(e) => {
                warnings.push(Warning::io(Provider::Codex, &path, &e));
                return titles;
            }
        };
        #[derive(serde::Deserialize)]
        struct Entry {
            id: String,
            thread_name: Option<String>,
        }
        for line in text.split(|b| *b == b'\n') {
            if let Ok(Entry {
                id,
                thread_name: Some(name),
            }) = serde_json::from_slice::<Entry>(line)
            {
                // Later lines rename the thread: last one wins.
                titles.insert(id, name);
            }
        }
        titles
    }
}

fn walk_rollouts(
    dir: &Path,
    depth: usize,
    out: &mut Vec<SessionFileRef>,
    warnings: &mut Vec<Warning>,
) {
    for entry in read_dir_or_warn(Provider::Codex, dir, warnings) {
        if is_dir(&entry) {
            if depth < 4 {
                walk_rollouts(&entry.path(), depth + 1, out, warnings);
            }
        } else {
            let name = name_of(&entry);
            if name.starts_with("rollout-") && name.ends_with(".jsonl") {
                out.push(jsonl(Provider::Codex, entry.path()));
            }
        }
    }
}

pub struct GeminiSource;

impl ProviderSource for GeminiSource {
    fn provider(&self) -> Provider {
        Provider::Gemini
    }

    fn data_dir(&self, home: &Path) -> PathBuf {
        home.join(".gemini")
    }

    fn session_files(
        &self,
        home: &Path,
        out: &mut Vec<SessionFileRef>,
        warnings: &mut Vec<Warning>,
    ) {
        let tmp = self.data_dir(home).join("tmp");
        for project in read_dir_or_warn(Provider::Gemini, &tmp, warnings) {
            if !is_dir(&project) {
                continue;
            }
            let chats = project.path().join("chats");
            for entry in read_dir_or_warn(Provider::Gemini, &chats, warnings) {
                let name = name_of(&entry);
                if !name.starts_with("session-") || is_dir(&entry) {
                    continue;
                }
                if name.ends_with(".jsonl") {
                    out.push(jsonl(Provider::Gemini, entry.path()));
                } else if name.ends_with(".json") {
                    out.push(SessionFileRef {
                        provider: Provider::Gemini,
                        path: entry.path(),
                        format: FileFormat::WholeJson,
                    });
                }
            }
        }
    }
}

fn jsonl(provider: Provider, path: PathBuf) -> SessionFileRef {
    SessionFileRef {
        provider,
        path,
        format: FileFormat::Jsonl,
    }
}

/// A display name for a session's project: the last component of its directory.
pub fn project_name(cwd: Option<&str>) -> Option<String> {
    let cwd = cwd?.trim_end_matches('/');
    Path::new(cwd)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .or_else(|| (!cwd.is_empty()).then(|| cwd.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_name_is_last_component() {
        assert_eq!(project_name(Some("/tmp/a/proj/")).as_deref(), Some("proj"));
        assert_eq!(project_name(None), None);
    }

    #[test]
    fn missing_dirs_are_empty_not_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        for s in all_sources() {
            s.session_files(dir.path(), &mut files, &mut warnings);
        }
        assert!(files.is_empty());
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
