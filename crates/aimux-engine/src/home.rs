//! Where aimux reads agent data from and where it keeps its own files.

use std::path::{Path, PathBuf};

/// The directories one aimux invocation works with.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Whose agent data is read (`~/.claude`, `~/.codex`, `~/.gemini` live under it).
    pub home: PathBuf,
    /// aimux's own state (`$AIMUX_HOME`, default `~/.aimux`).
    pub aimux_home: PathBuf,
}

impl Dirs {
    /// `home` overrides `$HOME` for agent data; `aimux_home` overrides `$AIMUX_HOME`.
    pub fn resolve(home: Option<PathBuf>, aimux_home: Option<PathBuf>) -> Dirs {
        let user_home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let aimux_home = aimux_home
            .or_else(|| std::env::var_os("AIMUX_HOME").map(PathBuf::from))
            .unwrap_or_else(|| user_home.join(".aimux"));
        let home = home.unwrap_or(user_home);
        let home = std::fs::canonicalize(&home).unwrap_or(home);
        Dirs { home, aimux_home }
    }

    /// The index for this data home. Each home gets its own index, so pointing aimux at a
    /// copied home never invalidates the cache of the real one.
    pub fn index_path(&self) -> PathBuf {
        self.aimux_home
            .join("index")
            .join(format!("{}.sqlite", home_key(&self.home)))
    }

    pub fn evaluations_dir(&self) -> PathBuf {
        self.aimux_home.join("evaluations")
    }

    pub fn config_path(&self) -> PathBuf {
        self.aimux_home.join("config.yaml")
    }
}

/// A short stable key for a path (FNV-1a), readable enough to find by hand.
fn home_key(home: &Path) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in home.to_string_lossy().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let name = home
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect();
    format!("{name}-{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_home_has_its_own_index() {
        let a = Dirs {
            home: PathBuf::from("/home/a"),
            aimux_home: PathBuf::from("/x"),
        };
        let b = Dirs {
            home: PathBuf::from("/home/b"),
            aimux_home: PathBuf::from("/x"),
        };
        assert_ne!(a.index_path(), b.index_path());
        assert!(a.index_path().starts_with("/x/index"));
    }
}
