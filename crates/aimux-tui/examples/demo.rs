//! The dashboard on made-up data: `cargo run -p aimux-tui --example demo [slow]`.

use aimux_tui::fixture::FixtureBackend;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut backend = FixtureBackend::new();
    if std::env::args().any(|a| a == "slow") {
        backend.delay = Duration::from_millis(1500);
    }
    aimux_tui::run(backend, aimux_tui::TuiConfig::default())
}
