//! `nhip-local`: the whole platform in one process on the embedded default.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::Parser;
use nhip_local_runner::{RunnerConfig, start};

/// Run Nhịp locally: SQLite store, durable local queues, schedules on a simulated clock.
#[derive(Debug, Parser)]
#[command(name = "nhip-local", version)]
struct Cli {
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:3000", env = "NHIP_ADDR")]
    addr: SocketAddr,
    /// Folder for the SQLite file (created if missing).
    #[arg(long, default_value = ".nhip", env = "NHIP_DATA_DIR")]
    data_dir: PathBuf,
    /// Simulated seconds per real second: 1 is real time, 3600 plays an hour a second.
    #[arg(long, default_value_t = 1.0, env = "NHIP_SPEED")]
    speed: f64,
    /// Start the simulated clock at this instant (RFC 3339) instead of now.
    #[arg(long)]
    start_at: Option<DateTime<Utc>>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.speed.is_finite() && (0.0..=1_000_000.0).contains(&cli.speed),
        "--speed must be between 0 and 1000000"
    );
    let mut runner = start(RunnerConfig {
        addr: cli.addr,
        data_dir: cli.data_dir,
        speed: cli.speed,
        start_at: cli.start_at,
    })
    .await?;
    println!("Nhịp is listening on http://{}", runner.addr);
    tokio::select! {
        failed = runner.wait_for_failure() => {
            failed?;
            anyhow::bail!("a runner task ended unexpectedly");
        }
        _ = shutdown_signal() => {}
    }
    tracing::info!("stopping: finishing in-flight work");
    runner.shutdown().await.context("stopping")?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
