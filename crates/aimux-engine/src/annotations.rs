//! Human labels on turns (GOOD / BAD / WASTE + note), stored append-only in
//! `$AIMUX_HOME/evaluations/<session-id>.jsonl`. The latest line for a turn wins; `clear`
//! removes the label. Each annotation is one `write` of one complete line to a file opened
//! for appending, synced before returning, so a crash never corrupts earlier lines and a
//! torn last line is skipped on read.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    Good,
    Bad,
    Waste,
    Clear,
}

impl Label {
    pub fn parse(s: &str) -> Option<Label> {
        match s.trim().to_ascii_lowercase().as_str() {
            "good" => Some(Label::Good),
            "bad" => Some(Label::Bad),
            "waste" => Some(Label::Waste),
            "clear" | "none" => Some(Label::Clear),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Good => "good",
            Label::Bad => "bad",
            Label::Waste => "waste",
            Label::Clear => "clear",
        }
    }

    /// The next label in the GOOD → BAD → WASTE → none cycle.
    pub fn cycle(current: Option<Label>) -> Label {
        match current {
            None | Some(Label::Clear) => Label::Good,
            Some(Label::Good) => Label::Bad,
            Some(Label::Bad) => Label::Waste,
            Some(Label::Waste) => Label::Clear,
        }
    }
}

/// One line of an evaluations file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Turn number when annotated (for humans; `turn_id` is what binds).
    pub turn: u32,
    /// Stable id of the turn from the provider record.
    pub turn_id: String,
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub timestamp: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnnotationError {
    #[error("session id '{0}' cannot be used as a file name")]
    BadSessionId(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The annotations of one session, folded: turn id → latest annotation (cleared turns
/// are absent).
#[derive(Debug, Clone, Default)]
pub struct SessionAnnotations {
    pub by_turn: HashMap<String, Annotation>,
    /// Lines that could not be read (a torn last line after a crash, hand edits).
    pub skipped_lines: usize,
}

impl SessionAnnotations {
    pub fn get(&self, turn_id: &str) -> Option<&Annotation> {
        self.by_turn.get(turn_id)
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |l: Label| self.by_turn.values().filter(|a| a.label == l).count();
        (count(Label::Good), count(Label::Bad), count(Label::Waste))
    }
}

pub struct AnnotationStore {
    dir: PathBuf,
}

impl AnnotationStore {
    pub fn new(dir: impl Into<PathBuf>) -> AnnotationStore {
        AnnotationStore { dir: dir.into() }
    }

    fn file(&self, session_id: &str) -> Result<PathBuf, AnnotationError> {
        let ok = !session_id.is_empty()
            && session_id.len() <= 200
            && session_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !session_id.starts_with('.');
        if !ok {
            return Err(AnnotationError::BadSessionId(session_id.to_string()));
        }
        Ok(self.dir.join(format!("{session_id}.jsonl")))
    }

    /// Appends one annotation durably.
    pub fn append(&self, session_id: &str, annotation: &Annotation) -> Result<(), AnnotationError> {
        let path = self.file(session_id)?;
        let io = |source| AnnotationError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let mut line = serde_json::to_vec(annotation).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        // A torn last line from an earlier crash would swallow this record: start on a
        // fresh line if the file does not end with one.
        if needs_leading_newline(&path) {
            line.insert(0, b'\n');
        }
        f.write_all(&line).map_err(io)?;
        f.sync_data().map_err(io)?;
        Ok(())
    }

    /// Reads a session's annotations; a missing file is empty.
    pub fn load(&self, session_id: &str) -> SessionAnnotations {
        let mut out = SessionAnnotations::default();
        let Ok(path) = self.file(session_id) else {
            return out;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return out;
        };
        for line in bytes.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Annotation>(line) {
                Ok(a) if a.label == Label::Clear => {
                    out.by_turn.remove(&a.turn_id);
                }
                Ok(a) => {
                    out.by_turn.insert(a.turn_id.clone(), a);
                }
                Err(_) => out.skipped_lines += 1,
            }
        }
        out
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn needs_leading_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.seek(SeekFrom::End(0)) else {
        return false;
    };
    if len == 0 || f.seek(SeekFrom::End(-1)).is_err() {
        return false;
    }
    let mut last = [0u8; 1];
    f.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(turn_id: &str, label: Label, note: Option<&str>) -> Annotation {
        Annotation {
            turn: 1,
            turn_id: turn_id.into(),
            label,
            note: note.map(str::to_string),
            timestamp: "2026-11-27T10:00:00Z".into(),
        }
    }

    #[test]
    fn latest_wins_and_clear_removes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AnnotationStore::new(dir.path());
        store
            .append("s1", &ann("t1", Label::Good, Some("nice")))
            .expect("append");
        store
            .append("s1", &ann("t1", Label::Bad, None))
            .expect("append");
        store
            .append("s1", &ann("t2", Label::Waste, None))
            .expect("append");
        store
            .append("s1", &ann("t2", Label::Clear, None))
            .expect("append");
        let got = store.load("s1");
        assert_eq!(got.get("t1").map(|a| a.label), Some(Label::Bad));
        assert!(got.get("t2").is_none());
        assert_eq!(got.counts(), (0, 1, 0));
    }

    #[test]
    fn torn_line_is_skipped_and_later_appends_survive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = AnnotationStore::new(dir.path());
        store
            .append("s1", &ann("t1", Label::Good, None))
            .expect("append");
        let path = dir.path().join("s1.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"turn":2,"turn_id":"t2","lab"#)
            .expect("tear");
        drop(f);
        store
            .append("s1", &ann("t3", Label::Waste, Some("x")))
            .expect("append");
        let got = store.load("s1");
        assert_eq!(got.skipped_lines, 1);
        assert_eq!(got.get("t1").map(|a| a.label), Some(Label::Good));
        assert_eq!(got.get("t3").map(|a| a.label), Some(Label::Waste));
    }

    #[test]
    fn path_traversal_ids_are_refused() {
        let store = AnnotationStore::new("/tmp/x");
        assert!(
            store
                .append("../etc/passwd", &ann("t", Label::Good, None))
                .is_err()
        );
        assert!(store.append("", &ann("t", Label::Good, None)).is_err());
    }

    #[test]
    fn label_cycle() {
        assert_eq!(Label::cycle(None), Label::Good);
        assert_eq!(Label::cycle(Some(Label::Good)), Label::Bad);
        assert_eq!(Label::cycle(Some(Label::Bad)), Label::Waste);
        assert_eq!(Label::cycle(Some(Label::Waste)), Label::Clear);
    }
}
