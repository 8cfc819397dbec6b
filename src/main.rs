//! `vroot`: run a cluster's shared root as a system container on this host.
//! This binary only parses, prints and calls the library crates.

mod agents;
mod cli;
mod config_reference;
mod doctor_output;
mod generate_docs;
mod output;
mod progress_output;
mod stop_all;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Command, OverlayCommand, StorageCommand, UsernsCommand};
use vroot_runtime::config::ContainerConfig;
use vroot_runtime::lifecycle::{self, start::Started, stop::StopOptions, LifecycleError};
use vroot_runtime::paths::HostPaths;

/// Exit code of `status` for a container that is not running.
const EXIT_NOT_RUNNING: u8 = 3;
/// Exit code for a container vroot does not know.
const EXIT_UNKNOWN: u8 = 4;

fn main() -> ExitCode {
    let paths = HostPaths::from_env();
    // Installed as /usr/sbin/fence_vroot or /usr/lib/ocf/resource.d/vroot/…,
    // this binary is the agent itself.
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    if let Some(agent) = agents::Agent::from_program_name(&argv0) {
        return agents::run(agent, argv.collect(), &paths);
    }
    let cli = Cli::parse();
    match run(cli.command, &paths) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vroot: {error}");
            let lifecycle_error = error.downcast_ref::<LifecycleError>();
            if lifecycle_error.is_some_and(LifecycleError::is_unknown_container) {
                ExitCode::from(EXIT_UNKNOWN)
            } else if matches!(lifecycle_error, Some(LifecycleError::Fenced { .. })) {
                ExitCode::from(vroot_runtime::supervisor::EXIT_FENCED as u8)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn run(command: Command, paths: &HostPaths) -> Result<ExitCode> {
    match command {
        Command::Start {
            name,
            foreground,
            unfence,
            verbose,
        } => {
            if unfence {
                lifecycle::fence::unfence(paths, &name)?;
            }
            let began = std::time::Instant::now();
            match start_checked(paths, &name, foreground, verbose)? {
                Started::Background { init_pid } => {
                    println!(
                        "{name}: started (init pid {init_pid}) in {}",
                        progress_output::duration(began.elapsed())
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Started::Foreground { exit_code } => {
                    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
                }
            }
        }
        Command::Stop {
            name,
            all,
            timeout,
            kill,
        } => {
            let name = match (name, all) {
                (None, true) => return stop_all::stop_all(paths, timeout, kill),
                (Some(name), false) => name,
                _ => unreachable!("clap requires exactly one of NAME and --all"),
            };
            let options = StopOptions {
                timeout: timeout.map(Duration::from_secs),
                kill,
            };
            let mut progress = progress_output::Terminal {
                name: name.clone(),
                verbose: false,
            };
            let stopped = lifecycle::stop::stop_reporting(paths, &name, options, &mut progress)?;
            println!("{}", output::stopped_line(&name, stopped));
            Ok(ExitCode::SUCCESS)
        }
        Command::Restart {
            name,
            timeout,
            verbose,
        } => {
            let options = StopOptions {
                timeout: timeout.map(Duration::from_secs),
                kill: false,
            };
            // A config that cannot start must not take the running container down.
            lifecycle::start::check(paths, &name)?;
            vroot_bootstrap::start::check_storage(paths, &name).map_err(start_error)?;
            lifecycle::stop::stop(paths, &name, options)?;
            let began = std::time::Instant::now();
            match start_checked(paths, &name, false, verbose)? {
                Started::Background { init_pid } => {
                    println!(
                        "{name}: restarted (init pid {init_pid}) in {}",
                        progress_output::duration(began.elapsed())
                    )
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
        Command::Fence {
            name,
            timeout,
            reason,
            json,
        } => {
            let result = lifecycle::fence::fence(
                paths,
                &name,
                Duration::from_secs(timeout.max(1)),
                &reason,
            )?;
            output::print_fence(&result, json)?;
            if result.verified {
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!(LifecycleError::Fence {
                    name,
                    reason: result.report.failure()
                })
            }
        }
        Command::Unfence { name } => {
            let was_fenced = lifecycle::fence::unfence(paths, &name)?;
            println!(
                "{name}: {}",
                if was_fenced {
                    "unfenced"
                } else {
                    "was not fenced"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Spec { name } => {
            let checked = lifecycle::start::check(paths, &name)?;
            println!("{}", vroot_runtime::spec::to_json(&checked.spec)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Overlay { command } => run_overlay(command, paths),
        Command::Userns { command } => run_userns(command, paths),
        Command::Storage { command } => run_storage(command, paths),
        Command::InstallUnits {
            dir,
            binary,
            packaged,
        } => {
            let binary = match binary {
                Some(binary) => binary,
                None => std::env::current_exe()?,
            };
            let written = if packaged {
                vroot_bootstrap::units::install_packaged(&dir, &binary)?
            } else {
                let storage = vroot_bootstrap::start::storage_config(paths)?;
                vroot_bootstrap::units::install(&dir, &binary, &storage)?
            };
            for unit in written {
                println!("{}", unit.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::InstallAgents { root, binary } => {
            let binary = match binary {
                Some(binary) => binary,
                None => std::env::current_exe()?,
            };
            for link in agents::install(&root, &binary)? {
                println!("{} -> {}", link.display(), binary.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { json, units_dir } => {
            let options = vroot_bootstrap::doctor::Options {
                units_dir,
                binary: None,
            };
            let report = vroot_bootstrap::doctor::run(paths, &options);
            doctor_output::print(&report, json)?;
            Ok(ExitCode::from(if report.ok { 0 } else { 1 }))
        }
        Command::FenceAgent { args } => Ok(agents::run(agents::Agent::Fence, args, paths)),
        Command::OcfAgent { args } => Ok(agents::run(agents::Agent::Ocf, args, paths)),
        Command::GenerateDocs { out } => generate_docs::generate(&out),
    }
}

/// Lifecycle errors keep their type (the exit codes depend on it).
fn start_error(error: vroot_bootstrap::start::StartError) -> anyhow::Error {
    match error {
        vroot_bootstrap::start::StartError::Lifecycle(error) => error.into(),
        other => other.into(),
    }
}

fn start_checked(
    paths: &HostPaths,
    name: &str,
    foreground: bool,
    verbose: bool,
) -> Result<Started> {
    let mut progress = progress_output::Terminal {
        name: name.to_string(),
        verbose,
    };
    vroot_bootstrap::start::start(paths, name, foreground, &mut progress).map_err(start_error)
}

fn run_storage(command: StorageCommand, paths: &HostPaths) -> Result<ExitCode> {
    use vroot_bootstrap::storage;
    let config = vroot_bootstrap::start::storage_config(paths)?;
    match command {
        StorageCommand::Mount => {
            let mut progress = progress_output::Terminal {
                name: "storage".into(),
                verbose: false,
            };
            println!("{}", storage::mount_reporting(&config, &mut progress)?);
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Umount { force, lazy } => {
            storage::umount(&config, force, lazy)?;
            println!("{}: unmounted", config.target.display());
            Ok(ExitCode::SUCCESS)
        }
        StorageCommand::Status { json } => {
            let status = storage::status(&config);
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("{}", status.message);
            }
            Ok(if status.health.is_usable() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

fn run_userns(command: UsernsCommand, paths: &HostPaths) -> Result<ExitCode> {
    use vroot_runtime::id_shift::Direction;
    let (name, direction) = match command {
        UsernsCommand::Shift { name } => (name, Direction::Into),
        UsernsCommand::Unshift { name } => (name, Direction::OutOf),
    };
    let outcome = vroot_runtime::lifecycle::shift::shift(paths, &name, direction)?;
    let mut line = format!(
        "{name}: root: {} changed, {} already there",
        outcome.root.changed, outcome.root.unchanged
    );
    if let Some(layer) = &outcome.layer {
        line.push_str(&format!("; per-host layer: {} changed", layer.changed));
    }
    for skipped in &outcome.root.other_filesystems {
        line.push_str(&format!(
            "; left alone (another filesystem): {}",
            skipped.display()
        ));
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
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
