//! `vroot`: run a cluster's shared root as a system container on this host.
//! This binary only parses, prints and calls the library crates.

mod output;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use vroot_runtime::config::ContainerConfig;
use vroot_runtime::lifecycle::{self, start::Started, stop::StopOptions, LifecycleError};
use vroot_runtime::paths::HostPaths;

/// Exit code of `status` for a container that is not running.
const EXIT_NOT_RUNNING: u8 = 3;
/// Exit code for a container vroot does not know.
const EXIT_UNKNOWN: u8 = 4;

#[derive(Parser)]
#[command(
    name = "vroot",
    version,
    about = "Run a cluster's shared root filesystem as a system container on each host"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a container; returns once its init runs.
    Start {
        name: String,
        /// Run the supervisor in this process until the container stops
        /// (for systemd units and benchmarks). Exit code: 0 on poweroff,
        /// 128+signal when the init crashed.
        #[arg(long)]
        foreground: bool,
    },
    /// Power a container off; kill it after the timeout.
    Stop {
        name: String,
        /// Seconds to wait for a clean poweroff (default: the config's stop_timeout).
        #[arg(long)]
        timeout: Option<u64>,
        /// Kill every process at once instead of asking the init to power off.
        #[arg(long)]
        kill: bool,
    },
    /// Stop a container if it runs, then start it.
    Restart {
        name: String,
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Show a container's state. Exit code: 0 running, 3 not running, 4 unknown.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List every configured or running container.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a running container; returns its exit code.
    Exec {
        name: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Open an interactive shell inside a running container.
    Enter { name: String },
    /// Attach to a container's console (Ctrl-] detaches).
    Console { name: String },
    /// Print the OCI runtime spec (config.json) rendered from the config.
    Spec { name: String },
    /// Scan a container's shared root for host-unique content (a filled
    /// machine-id, ssh host keys, leases, this host's name or address).
    /// Exit code: 0 clean, 1 findings or error.
    Lint {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Work with a container's per-host layer (hostname, machine-id, network
    /// config, ssh host keys, logs, … of this host).
    Overlay {
        #[command(subcommand)]
        command: OverlayCommand,
    },
}

#[derive(Subcommand)]
enum OverlayCommand {
    /// Create and fill the per-host layer (start does this too).
    Init { name: String },
    /// Every per-host entry: its mode, how it is laid over the root, where
    /// its content comes from and its state.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Print what a `gen` entry renders to on this host.
    Render { name: String, path: String },
    /// Compare two containers' per-host layers. Exit code: 0 same, 1 different.
    Diff {
        name: String,
        other: String,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = HostPaths::from_env();
    match run(cli.command, &paths) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vroot: {error}");
            let unknown = error
                .downcast_ref::<LifecycleError>()
                .is_some_and(LifecycleError::is_unknown_container);
            ExitCode::from(if unknown { EXIT_UNKNOWN } else { 1 })
        }
    }
}

fn run(command: Command, paths: &HostPaths) -> Result<ExitCode> {
    match command {
        Command::Start { name, foreground } => {
            match lifecycle::start::start(paths, &name, foreground)? {
                Started::Background { init_pid } => {
                    println!("{name}: started (init pid {init_pid})");
                    Ok(ExitCode::SUCCESS)
                }
                Started::Foreground { exit_code } => {
                    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
                }
            }
        }
        Command::Stop {
            name,
            timeout,
            kill,
        } => {
            let options = StopOptions {
                timeout: timeout.map(Duration::from_secs),
                kill,
            };
            let stopped = lifecycle::stop::stop(paths, &name, options)?;
            println!("{}", output::stopped_line(&name, stopped));
            Ok(ExitCode::SUCCESS)
        }
        Command::Restart { name, timeout } => {
            let options = StopOptions {
                timeout: timeout.map(Duration::from_secs),
                kill: false,
            };
            // A config that cannot start must not take the running container down.
            lifecycle::start::check(paths, &name)?;
            lifecycle::stop::stop(paths, &name, options)?;
            match lifecycle::start::start(paths, &name, false)? {
                Started::Background { init_pid } => {
                    println!("{name}: restarted (init pid {init_pid})")
                }
                Started::Foreground { .. } => unreachable!("restart starts in the background"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { name, json } => {
            let status = lifecycle::inspect::status(paths, &name)?;
            output::print_status(&status, json)?;
            let running = status.state == lifecycle::inspect::RunState::Running;
            Ok(ExitCode::from(if running { 0 } else { EXIT_NOT_RUNNING }))
        }
        Command::List { json } => {
            let (statuses, errors): (Vec<_>, Vec<_>) = lifecycle::inspect::list(paths)
                .into_iter()
                .partition(Result::is_ok);
            output::print_list(&statuses.into_iter().flatten().collect::<Vec<_>>(), json)?;
            for error in errors.into_iter().filter_map(Result::err) {
                eprintln!("vroot: {error}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Exec { name, command } => match lifecycle::exec::exec(paths, &name, &command) {
            Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
            Err(error) => {
                eprintln!("vroot: {error}");
                Ok(ExitCode::from(lifecycle::exec::EXIT_RUNTIME_ERROR as u8))
            }
        },
        Command::Enter { name } => {
            let code = lifecycle::exec::enter(paths, &name)?;
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Command::Console { name } => {
            lifecycle::console::attach(paths, &name)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lint { name, json } => {
            let config = ContainerConfig::load(&paths.config_dir, &name)?;
            anyhow::ensure!(
                config.root.is_dir(),
                "container {name}: root {} does not exist or is not a directory",
                config.root.display()
            );
            let findings = vroot_overlays::lint::lint(
                &config.root,
                &vroot_runtime::host_facts::gather(&config),
                &config.overlay.entries,
            );
            output::print_findings(&name, &findings, json)?;
            Ok(if findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Spec { name } => {
            let checked = lifecycle::start::check(paths, &name)?;
            println!("{}", vroot_runtime::spec::to_json(&checked.spec)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Overlay { command } => run_overlay(command, paths),
    }
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn run_overlay(command: OverlayCommand, paths: &HostPaths) -> Result<ExitCode> {
    use vroot_runtime::host_layer;
    let load = |name: &str| ContainerConfig::load(&paths.config_dir, name);
    match command {
        OverlayCommand::Init { name } => {
            let config = load(&name)?;
            let actions = host_layer::init(&config, paths, &host_name())?;
            output::print_actions(
                &name,
                &host_layer::layer_paths(&config, paths).dir,
                &actions,
            );
            Ok(ExitCode::SUCCESS)
        }
        OverlayCommand::Status { name, json } => {
            let status = host_layer::status(&load(&name)?, paths, &host_name())?;
            output::print_layer_status(&status, json)?;
            Ok(ExitCode::SUCCESS)
        }
        OverlayCommand::Render { name, path } => {
            let rendered = host_layer::render(&load(&name)?, &path, &host_name())?;
            std::io::Write::write_all(&mut std::io::stdout(), &rendered)?;
            Ok(ExitCode::SUCCESS)
        }
        OverlayCommand::Diff { name, other, json } => {
            let differences = host_layer::diff(&load(&name)?, &load(&other)?, paths)?;
            output::print_differences(&name, &other, &differences, json)?;
            Ok(if differences.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
