//! The index reads each byte once: unchanged files are not re-read, grown files resume
//! from their offset, replaced files are re-parsed, deleted files leave the index.

use aimux_core::pricing::PriceTable;
use aimux_engine::catalog;
use aimux_engine::index::Index;
use aimux_engine::scan::scan;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixtures_home() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/home")
}

/// Copies the real fixture home into a scratch dir so the test can change files.
fn scratch_home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    copy_dir(&fixtures_home(), &home);
    (dir, home)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("fixtures exist") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            jsonl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "jsonl")
            && p.to_string_lossy().contains("/.claude/projects/")
        {
            out.push(p);
        }
    }
}

#[test]
fn second_scan_reads_nothing_and_appends_resume() {
    let (_guard, home) = scratch_home();
    let mut index = Index::open_in_memory().expect("index");
    let first = scan(&home, &mut index, None).expect("scan");
    assert!(first.files > 0, "fixtures have session files");
    assert_eq!(first.parsed, first.files);
    assert!(first.bytes_read > 0);

    let second = scan(&home, &mut index, None).expect("scan");
    assert_eq!(second.parsed, 0);
    assert_eq!(second.resumed, 0);
    assert_eq!(second.unchanged, second.files);
    assert_eq!(second.bytes_read, 0, "an unchanged home reads no byte");

    // Append one complete record and half of another to a Claude transcript.
    let mut claude = Vec::new();
    jsonl_files(&home, &mut claude);
    let target = claude.first().expect("a claude transcript");
    let original = fs::read(target).expect("read");
    let last_line = original
        .split(|b| *b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("a line")
        .to_vec();
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(target)
        .expect("open");
    f.write_all(&last_line).expect("append");
    f.write_all(b"\n{\"type\":\"user\",\"half")
        .expect("append partial");
    drop(f);
    let third = scan(&home, &mut index, None).expect("scan");
    assert_eq!(third.resumed, 1, "{third:?}");
    assert_eq!(third.parsed, 0);
    let appended = (last_line.len() + 1 + b"{\"type\":\"user\",\"half".len()) as u64;
    assert_eq!(
        third.bytes_read, appended,
        "only the appended bytes are read"
    );

    // Finishing the partial line re-reads only that line's bytes.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(target)
        .expect("open");
    f.write_all(b"\":1}\n").expect("finish line");
    drop(f);
    let fourth = scan(&home, &mut index, None).expect("scan");
    assert_eq!(fourth.resumed, 1);
    assert_eq!(
        fourth.bytes_read,
        (b"{\"type\":\"user\",\"half".len() + 5) as u64
    );

    // Replacing a file (new inode, shorter) re-parses it from the start.
    let replacement = target.with_extension("tmp");
    fs::write(&replacement, &original[..original.len() / 2]).expect("write");
    fs::rename(&replacement, target).expect("rename");
    let fifth = scan(&home, &mut index, None).expect("scan");
    assert_eq!(fifth.parsed, 1);

    fs::remove_file(target).expect("rm");
    let sixth = scan(&home, &mut index, None).expect("scan");
    assert_eq!(sixth.removed, 1);
    assert_eq!(sixth.files, first.files - 1);
}

#[test]
fn resumed_parse_equals_fresh_parse() {
    let (_guard, home) = scratch_home();
    let mut claude = Vec::new();
    jsonl_files(&home, &mut claude);
    // Cut every transcript in half, index, then restore the full content: the resumed
    // result must equal a fresh index of the full files.
    let originals: Vec<(PathBuf, Vec<u8>)> = claude
        .iter()
        .map(|p| (p.clone(), fs::read(p).expect("read")))
        .collect();
    for (p, bytes) in &originals {
        fs::write(p, &bytes[..bytes.len() / 2]).expect("write half");
    }
    let mut resumed = Index::open_in_memory().expect("index");
    scan(&home, &mut resumed, None).expect("scan");
    for (p, bytes) in &originals {
        let mut f = fs::OpenOptions::new().append(true).open(p).expect("open");
        f.write_all(&bytes[bytes.len() / 2..]).expect("append rest");
    }
    let report = scan(&home, &mut resumed, None).expect("scan");
    assert_eq!(report.resumed, originals.len());

    let mut fresh = Index::open_in_memory().expect("index");
    scan(&home, &mut fresh, None).expect("scan");
    let prices = PriceTable::bundled();
    let rows = |ix: &Index| {
        let mut w = Vec::new();
        let mut rows = catalog::sessions(ix, &home, &prices, &mut w).expect("sessions");
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        serde_json::to_value(&rows).expect("json")
    };
    assert_eq!(rows(&resumed), rows(&fresh));
}

#[test]
fn deleting_the_index_loses_nothing() {
    let home = fixtures_home();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("index.sqlite");
    let prices = PriceTable::bundled();
    let list = |ix: &mut Index| {
        scan(&home, ix, None).expect("scan");
        let mut w = Vec::new();
        let mut rows = catalog::sessions(ix, &home, &prices, &mut w).expect("sessions");
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        serde_json::to_value(&rows).expect("json")
    };
    let before = list(&mut Index::open(&path).expect("open"));
    fs::remove_file(&path).expect("delete index");
    let after = list(&mut Index::open(&path).expect("reopen"));
    assert_eq!(before, after);
    // A corrupt index is discarded and rebuilt, not an error.
    fs::write(&path, b"this is not sqlite").expect("corrupt");
    let _ = fs::remove_file(dir.path().join("index.sqlite-wal"));
    let rebuilt = list(&mut Index::open(&path).expect("open corrupt"));
    assert_eq!(before, rebuilt);
}

#[test]
fn a_broken_provider_directory_leaves_the_others_listed() {
    let (_guard, home) = scratch_home();
    // Root ignores permission bits, so make the Claude projects dir unreadable in a way
    // that fails for everyone: a symlink loop.
    let projects = home.join(".claude/projects");
    fs::remove_dir_all(&projects).expect("rm");
    std::os::unix::fs::symlink(&projects, &projects).expect("symlink loop");
    let mut index = Index::open_in_memory().expect("index");
    let report = scan(&home, &mut index, None).expect("scan still succeeds");
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.provider == Some(aimux_core::Provider::Claude)
                && w.file.ends_with("projects")),
        "{:?}",
        report.warnings
    );
    let mut w = Vec::new();
    let rows = catalog::sessions(&index, &home, &PriceTable::bundled(), &mut w).expect("sessions");
    assert!(
        rows.iter()
            .any(|r| r.provider == aimux_core::Provider::Codex)
    );
    assert!(
        rows.iter()
            .any(|r| r.provider == aimux_core::Provider::Gemini)
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.provider == aimux_core::Provider::Claude)
    );
}

#[test]
fn an_old_file_that_grows_is_parsed_again_in_full() {
    let (_guard, home) = scratch_home();
    let mut claude = Vec::new();
    jsonl_files(&home, &mut claude);
    let target = claude.first().expect("a claude transcript").clone();
    let bytes = fs::read(&target).expect("read");
    fs::write(&target, &bytes[..bytes.len() / 2]).expect("half");
    // Ten days old: no resume state is kept for it.
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(10 * 24 * 3600);
    fs::File::options()
        .write(true)
        .open(&target)
        .expect("open")
        .set_modified(old)
        .expect("set mtime");
    let mut index = Index::open_in_memory().expect("index");
    scan(&home, &mut index, None).expect("scan");
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(&target)
        .expect("open");
    f.write_all(&bytes[bytes.len() / 2..]).expect("append");
    drop(f);
    let report = scan(&home, &mut index, None).expect("scan");
    assert_eq!((report.parsed, report.resumed), (1, 0), "{report:?}");
    assert_eq!(report.bytes_read, bytes.len() as u64);

    let mut fresh = Index::open_in_memory().expect("index");
    scan(&home, &mut fresh, None).expect("scan");
    let prices = PriceTable::bundled();
    let rows = |ix: &Index| {
        let mut w = Vec::new();
        let mut rows = catalog::sessions(ix, &home, &prices, &mut w).expect("sessions");
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        serde_json::to_value(&rows).expect("json")
    };
    assert_eq!(rows(&index), rows(&fresh));
}
