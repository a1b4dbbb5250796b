//! Safe delete: a session's provider files move to `$AIMUX_HOME/trash/<id>/` with a
//! manifest of their original paths, and `restore` puts them back byte-identical.
//! Nothing is ever removed outright: a file leaves its place only once its copy in the
//! trash is complete. Annotations (aimux's own data) are not touched.

use crate::catalog::SessionRow;
use aimux_core::Provider;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum TrashError {
    #[error("{0}")]
    Refused(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrashError + '_ {
    move |source| TrashError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrashedFile {
    /// Where the file was (and where restore puts it).
    pub original: String,
    /// Its name inside the entry's `files/` directory.
    pub stored: String,
    pub size: u64,
}

/// `manifest.json` of one trashed session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrashEntry {
    pub session: String,
    pub provider: Provider,
    pub title: Option<String>,
    pub project: Option<String>,
    pub trashed_at: String,
    pub files: Vec<TrashedFile>,
    /// The entry's directory (not stored; filled when listed).
    #[serde(skip_deserializing, default)]
    pub dir: String,
}

pub fn trash_dir(aimux_home: &Path) -> PathBuf {
    aimux_home.join("trash")
}

/// A directory name for a session id: ids are provider-made, so keep it tame.
fn safe_name(s: &str) -> String {
    let name: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        "session".into()
    } else {
        name
    }
}

/// The files a trash of `row` would move (those that exist as regular files).
pub fn files_to_move(row: &SessionRow) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for f in &row.files {
        let p = PathBuf::from(f);
        let is_file = std::fs::symlink_metadata(&p)
            .map(|m| m.file_type().is_file())
            .unwrap_or(false);
        if is_file && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Moves a file, falling back to copy + verify + remove across filesystems.
fn move_file(from: &Path, to: &Path) -> Result<(), TrashError> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map_err(io(from))?;
    let a = std::fs::metadata(from).map_err(io(from))?.len();
    let b = std::fs::metadata(to).map_err(io(to))?.len();
    if a != b {
        let _ = std::fs::remove_file(to);
        return Err(TrashError::Refused(format!(
            "copy of {} is incomplete; the original stays",
            from.display()
        )));
    }
    std::fs::remove_file(from).map_err(io(from))
}

/// Moves the session's files to the trash and writes the manifest.
pub fn trash_session(aimux_home: &Path, row: &SessionRow) -> Result<TrashEntry, TrashError> {
    // Sessions stored as rows of a database (opencode: `<db>#<session>`) share their file
    // with every other session: moving it would take them all.
    if let Some(shared) = row.files.iter().find(|f| f.contains('#')) {
        return Err(TrashError::Refused(format!(
            "{} lives inside a shared database ({shared}); aimux only moves whole session files",
            row.id
        )));
    }
    let files = files_to_move(row);
    if files.is_empty() {
        return Err(TrashError::Refused(format!(
            "session {} has no files on disk to move",
            row.id
        )));
    }
    let root = trash_dir(aimux_home);
    let base = format!("{}-{}", row.provider, safe_name(&row.id));
    let mut dir = root.join(&base);
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{base}.{n}"));
        n += 1;
    }
    let store = dir.join("files");
    std::fs::create_dir_all(&store).map_err(io(&store))?;
    let mut entry = TrashEntry {
        session: row.id.clone(),
        provider: row.provider,
        title: row.title.clone(),
        project: row.project.clone(),
        trashed_at: chrono::Utc::now().to_rfc3339(),
        files: Vec::new(),
        dir: dir.display().to_string(),
    };
    for (i, f) in files.iter().enumerate() {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let stored = format!("{i}-{}", safe_name(&name));
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        entry.files.push(TrashedFile {
            original: f.display().to_string(),
            stored,
            size,
        });
    }
    // The manifest is written first, so an interrupted move is still restorable.
    write_manifest(&dir, &entry)?;
    for (f, t) in files.iter().zip(&entry.files) {
        move_file(f, &store.join(&t.stored))?;
    }
    Ok(entry)
}

fn write_manifest(dir: &Path, entry: &TrashEntry) -> Result<(), TrashError> {
    let path = dir.join("manifest.json");
    let tmp = dir.join("manifest.json.tmp");
    let json = serde_json::to_vec_pretty(entry).map_err(|e| TrashError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(&tmp, json).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// Every trashed session, newest first. Unreadable entries are skipped.
pub fn list(aimux_home: &Path) -> Vec<TrashEntry> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(trash_dir(aimux_home)) else {
        return out;
    };
    for e in entries.flatten() {
        let dir = e.path();
        let Ok(bytes) = std::fs::read(dir.join("manifest.json")) else {
            continue;
        };
        if let Ok(mut entry) = serde_json::from_slice::<TrashEntry>(&bytes) {
            entry.dir = dir.display().to_string();
            out.push(entry);
        }
    }
    out.sort_by(|a, b| b.trashed_at.cmp(&a.trashed_at).then(a.dir.cmp(&b.dir)));
    out
}

/// Finds a trashed session by id or unique id prefix.
pub fn find(aimux_home: &Path, query: &str) -> Result<TrashEntry, TrashError> {
    let all = list(aimux_home);
    if let Some(e) = all.iter().find(|e| e.session == query) {
        return Ok(e.clone());
    }
    let matches: Vec<&TrashEntry> = all
        .iter()
        .filter(|e| e.session.starts_with(query))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(TrashError::Refused(format!(
            "no trashed session matches '{query}' (see `aimux trash list`)"
        ))),
        many => Err(TrashError::Refused(format!(
            "'{query}' matches {} trashed sessions; give more of the id",
            many.len()
        ))),
    }
}

/// Puts a trashed session's files back where they were. Refuses (moving nothing) if any
/// original path is taken again.
pub fn restore(aimux_home: &Path, query: &str) -> Result<TrashEntry, TrashError> {
    let entry = find(aimux_home, query)?;
    let dir = PathBuf::from(&entry.dir);
    let store = dir.join("files");
    for f in &entry.files {
        if Path::new(&f.original).exists() {
            return Err(TrashError::Refused(format!(
                "{} exists again; restore would overwrite it, so nothing was restored",
                f.original
            )));
        }
        if !store.join(&f.stored).is_file() {
            return Err(TrashError::Refused(format!(
                "the trash copy of {} is missing ({}); nothing was restored",
                f.original,
                store.join(&f.stored).display()
            )));
        }
    }
    for f in &entry.files {
        let to = PathBuf::from(&f.original);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        move_file(&store.join(&f.stored), &to)?;
    }
    // Only aimux's own, now empty, trash entry is removed.
    let _ = std::fs::remove_file(dir.join("manifest.json"));
    let _ = std::fs::remove_dir(&store);
    let _ = std::fs::remove_dir(&dir);
    Ok(entry)
}
