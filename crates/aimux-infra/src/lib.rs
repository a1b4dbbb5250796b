//! aimux scale-out: Redis coordination with one key schema ([`schema`]), the worker loop
//! ([`worker`]), the MCP server for a local lead agent ([`mcp`]) and the infrastructure
//! provider trait with its health model ([`provider`]).

pub mod coord;
#[cfg(feature = "fake-k8s")]
pub mod fake_k8s;
#[cfg(feature = "k8s")]
pub mod k8s;
pub mod mcp;
pub mod provider;
#[cfg(feature = "k8s")]
pub mod remote;
pub mod schema;
pub mod worker;

/// Runs a future to completion on a fresh multi-threaded tokio runtime (for the CLI).
pub fn block_on<F: std::future::Future>(f: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

/// Resolves on Ctrl-C or SIGTERM (what a pod gets when it is scaled down).
pub async fn ctrl_c() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
