//! `nhip-local`: the whole platform in one process on the embedded default.
//! `nhip-local token …` prints a staff token the platform on the same data folder accepts;
//! `nhip-local user add …` and `nhip-local team add …` fill the staff directory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use nhip_core::auth::{Authenticator, Principal, Role};
use nhip_local::{Database, SqliteStore};
use nhip_local_runner::{
    JWT_SECRET_FILE, JWT_SECRET_VAR, RunnerConfig, Seeds, jwt_secret, saved_clock, start,
};

/// Run Nhịp locally: SQLite store, durable local queues, schedules on a simulated clock.
#[derive(Debug, Parser)]
#[command(name = "nhip-local", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a staff token (HS256) for the platform on this data folder, and nothing else,
    /// so `TOKEN=$(nhip-local token --user lan --role manager --team hn-1)` works.
    Token(TokenArgs),
    /// The staff directory's users.
    #[command(subcommand)]
    User(UserCommand),
    /// The staff directory's teams.
    #[command(subcommand)]
    Team(TeamCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a member of staff; prints their one-time password (changed at first sign-in).
    Add(UserAddArgs),
}

#[derive(Debug, Subcommand)]
enum TeamCommand {
    /// Add a team.
    Add(TeamAddArgs),
}

#[derive(Debug, Args)]
struct UserAddArgs {
    /// Sign-in name: lower-case letters, digits, `.`, `_`, `-`.
    #[arg(long)]
    username: String,
    /// Display name, e.g. "Trần Thị Lan".
    #[arg(long)]
    name: String,
    /// admin, manager, consultant, agent, telesales or rm.
    #[arg(long)]
    role: Role,
    /// Team key (the team must exist: `nhip-local team add`).
    #[arg(long, default_value = "")]
    team: String,
    /// The user name of their manager.
    #[arg(long, default_value = "")]
    manager: String,
    /// Phone extension in the call centre.
    #[arg(long, default_value = "")]
    extension: String,
    /// The platform's data folder.
    #[arg(long, default_value = ".nhip", env = "NHIP_DATA_DIR")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
struct TeamAddArgs {
    /// Short key, e.g. `hn`.
    #[arg(long)]
    key: String,
    /// Name, e.g. "Phòng tư vấn Hà Nội".
    #[arg(long)]
    name: String,
    /// The user name of its manager.
    #[arg(long, default_value = "")]
    manager: String,
    /// The platform's data folder.
    #[arg(long, default_value = ".nhip", env = "NHIP_DATA_DIR")]
    data_dir: PathBuf,
}

/// Running the platform (no subcommand).
#[derive(Debug, Args)]
struct RunArgs {
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
    #[arg(long, env = "NHIP_START_AT")]
    start_at: Option<DateTime<Utc>>,
    /// Seed journeys to install at start as demo data: all, none, or keys separated by
    /// commas (the others can be installed later from the API).
    #[arg(long, default_value = "all", env = "NHIP_SEEDS")]
    seeds: Seeds,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// The staff user's name.
    #[arg(long)]
    user: String,
    /// admin, manager, consultant, agent, telesales or rm.
    #[arg(long)]
    role: Role,
    /// The user's team (a manager sees their team's customers).
    #[arg(long)]
    team: Option<String>,
    /// Hours the token stays valid, counted on the platform's simulated clock.
    #[arg(long, default_value_t = 720, value_parser = clap::value_parser!(u32).range(1..=87_600))]
    ttl_hours: u32,
    /// The platform's data folder: its secret signs the token, its saved clock dates it.
    #[arg(long, default_value = ".nhip", env = "NHIP_DATA_DIR")]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Token(args)) => token(args).await,
        Some(Command::User(UserCommand::Add(args))) => add_user(args).await,
        Some(Command::Team(TeamCommand::Add(args))) => add_team(args).await,
        None => run(cli.run).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    anyhow::ensure!(
        args.speed.is_finite() && (0.0..=1_000_000.0).contains(&args.speed),
        "--speed must be between 0 and 1000000"
    );
    let mut runner = start(RunnerConfig {
        addr: args.addr,
        data_dir: args.data_dir,
        speed: args.speed,
        start_at: args.start_at,
        seeds: args.seeds,
    })
    .await?;
    println!("Nhịp is listening on http://{}", runner.addr);
    println!("Staff console: http://{}/", runner.addr);
    if let Some(password) = &runner.first_admin_password {
        println!(
            "First sign-in: user admin, one-time password {password} (shown only now; the console asks for a new one)"
        );
    }
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

/// Prints only the token on stdout (no logging is set up, so nothing else reaches it).
async fn token(args: TokenArgs) -> anyhow::Result<()> {
    // A token signed with a secret no runner uses would be refused on every call: a folder no
    // runner has run on (a forgotten --data-dir) is an error, never a new secret.
    let secret_set = std::env::var_os(JWT_SECRET_VAR).is_some_and(|s| !s.is_empty());
    anyhow::ensure!(
        secret_set || args.data_dir.join(JWT_SECRET_FILE).exists(),
        "no Nhịp runner has run on the data folder {}: start the runner first, or pass the \
         --data-dir it runs with (its tokens are signed with the secret kept there)",
        args.data_dir.display()
    );
    let auth = Authenticator::hs256(jwt_secret(&args.data_dir)?);
    let now = simulated_now(&args.data_dir).await?;
    let principal = Principal::new(args.user, args.role, args.team);
    anyhow::ensure!(
        !principal.user.trim().is_empty(),
        "--user must not be empty"
    );
    let ttl = chrono::Duration::hours(i64::from(args.ttl_hours));
    println!("{}", auth.issue(&principal, now, ttl));
    Ok(())
}

/// The store of the platform on `data_dir`, which a runner must have used.
fn directory_store(data_dir: &std::path::Path) -> anyhow::Result<SqliteStore> {
    let db_path = data_dir.join("nhip.db");
    anyhow::ensure!(
        db_path.exists(),
        "no Nhịp runner has run on the data folder {}: start the runner first, or pass its --data-dir",
        data_dir.display()
    );
    let db = Database::open(&db_path).with_context(|| format!("opening {}", db_path.display()))?;
    Ok(SqliteStore::new(db))
}

/// Adds a member of staff and prints their one-time password, and nothing else.
async fn add_user(args: UserAddArgs) -> anyhow::Result<()> {
    let store = directory_store(&args.data_dir)?;
    let now = simulated_now(&args.data_dir).await?;
    let password = nhip_crm::staff::generate_password();
    let input = nhip_crm::staff::UserInput {
        username: args.username,
        display_name: args.name,
        role: Some(args.role),
        team: args.team,
        manager: args.manager,
        extension: args.extension,
        active: true,
    };
    nhip_crm::staff::create_user(&store, &input, Some(&password), now)
        .await
        .map_err(directory_error)?;
    println!("{password}");
    Ok(())
}

/// Adds a team.
async fn add_team(args: TeamAddArgs) -> anyhow::Result<()> {
    let store = directory_store(&args.data_dir)?;
    nhip_crm::staff::create_team(&store, &args.key, &args.name, &args.manager)
        .await
        .map_err(directory_error)?;
    Ok(())
}

fn directory_error(error: nhip_crm::staff::DirectoryError) -> anyhow::Error {
    use nhip_crm::staff::DirectoryError;
    match error {
        DirectoryError::Invalid { field, message } => anyhow::anyhow!("--{field}: {message}"),
        DirectoryError::Exists => anyhow::anyhow!("that name is taken"),
        other => anyhow::Error::new(other),
    }
}

/// Where the platform's clock is (or will resume): the time it saved when it last ran if that
/// is ahead of now, else now; the same rule the runner applies when it starts.
async fn simulated_now(data_dir: &std::path::Path) -> anyhow::Result<DateTime<Utc>> {
    let now = Utc::now();
    let db_path = data_dir.join("nhip.db");
    if !db_path.exists() {
        return Ok(now);
    }
    let db = Database::open(&db_path).with_context(|| format!("opening {}", db_path.display()))?;
    let saved = saved_clock(&SqliteStore::new(Arc::clone(&db))).await?;
    Ok(saved.map_or(now, |saved| saved.max(now)))
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_runs_the_platform_with_the_usual_flags() {
        let cli = Cli::try_parse_from([
            "nhip-local",
            "--addr",
            "127.0.0.1:4000",
            "--data-dir",
            "/tmp/x",
            "--speed",
            "3600",
            "--start-at",
            "2026-11-23T02:00:00Z",
        ])
        .unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.run.addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(cli.run.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(cli.run.speed, 3600.0);
        assert!(cli.run.start_at.is_some());
    }

    #[test]
    fn token_takes_user_role_team_ttl_and_data_dir() {
        let cli = Cli::try_parse_from([
            "nhip-local",
            "token",
            "--user",
            "lan",
            "--role",
            "manager",
            "--team",
            "hn-1",
            "--ttl-hours",
            "2",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        let Some(Command::Token(args)) = cli.command else {
            panic!("expected the token command");
        };
        assert_eq!(
            (args.user.as_str(), args.role, args.team.as_deref()),
            ("lan", Role::Manager, Some("hn-1"))
        );
        assert_eq!(
            (args.ttl_hours, args.data_dir),
            (2, PathBuf::from("/tmp/x"))
        );

        let defaults =
            Cli::try_parse_from(["nhip-local", "token", "--user", "a", "--role", "rm"]).unwrap();
        let Some(Command::Token(args)) = defaults.command else {
            panic!("expected the token command");
        };
        assert_eq!(args.ttl_hours, 720);

        for bad in [
            &["nhip-local", "token", "--user", "a", "--role", "root"][..],
            &["nhip-local", "token", "--role", "admin"],
            &[
                "nhip-local",
                "token",
                "--user",
                "a",
                "--role",
                "admin",
                "--ttl-hours",
                "0",
            ],
            &[
                "nhip-local",
                "--speed",
                "2",
                "token",
                "--user",
                "a",
                "--role",
                "admin",
            ],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
