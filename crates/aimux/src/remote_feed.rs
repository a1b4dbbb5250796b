//! Remote agents for the agents views (`aimux agents`, the dashboard), fetched on a
//! thread of their own every few seconds so a slow or unreachable cluster never delays
//! the local rows.

use crate::infra_cmd::RedisOpts;
use crate::remote_cmd::{ScreenMemory, agent_row, infra_ctx, list_remote};
use aimux_engine::agents::AgentRow;
use std::time::Duration;

#[derive(Default)]
struct FeedState {
    rows: Vec<AgentRow>,
    error: Option<String>,
    fetched: bool,
}

/// Remote agents for the agents views, fetched on a thread of their own so a slow or
/// unreachable cluster never delays the local rows. Stops when dropped.
pub struct RemoteFeed {
    state: std::sync::Arc<std::sync::Mutex<FeedState>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RemoteFeed {
    /// `None` when no cluster is configured (no `kubernetes:` in the config).
    pub fn start(dirs: &aimux_engine::home::Dirs, every: Duration) -> Option<RemoteFeed> {
        use std::sync::atomic::Ordering;
        let ctx = infra_ctx(dirs);
        if !matches!(crate::infra_cmd::k8s_config(&ctx), Ok(Some(_))) {
            return None;
        }
        let feed = RemoteFeed {
            state: Default::default(),
            stop: Default::default(),
        };
        let (state, stop) = (feed.state.clone(), feed.stop.clone());
        let redis = RedisOpts {
            redis: std::env::var("AIMUX_REDIS_URL").ok(),
        };
        std::thread::Builder::new()
            .name("aimux-remote-feed".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                let mut screens = ScreenMemory::new();
                while !stop.load(Ordering::Relaxed) {
                    let fetched = runtime.block_on(async {
                        tokio::time::timeout(
                            Duration::from_secs(10),
                            list_remote(&ctx, &redis, &mut screens),
                        )
                        .await
                    });
                    if let Ok(mut s) = state.lock() {
                        match fetched {
                            Ok(Ok(rows)) => {
                                s.rows = rows.iter().map(agent_row).collect();
                                s.error = None;
                            }
                            Ok(Err(e)) => s.error = Some(format!("{e:#}")),
                            Err(_) => s.error = Some("the cluster did not answer in 10 s".into()),
                        }
                        s.fetched = true;
                    }
                    let until = std::time::Instant::now() + every;
                    while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            })
            .ok()?;
        Some(feed)
    }

    /// Waits (up to `timeout`) for the first answer of the cluster.
    pub fn wait_first(&self, timeout: Duration) {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until
            && !self.state.lock().map(|s| s.fetched).unwrap_or(true)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The latest rows, and the latest error (rows are kept from the last good answer).
    pub fn latest(&self) -> (Vec<AgentRow>, Option<String>) {
        match self.state.lock() {
            Ok(s) => (s.rows.clone(), s.error.clone()),
            Err(_) => (Vec::new(), None),
        }
    }
}

impl Drop for RemoteFeed {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
