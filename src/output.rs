//! What `vroot` prints: results on stdout, one line per fact, or JSON.

use anyhow::Result;
use vroot_overlays::config::LayerMode;
use vroot_overlays::diff::{Change, Difference};
use vroot_overlays::lint::Finding;
use vroot_overlays::plan::Placement;
use vroot_overlays::prepare::Action;
use vroot_overlays::status::{LayerStatus, State};
use vroot_runtime::lifecycle::fence::FenceResult;
use vroot_runtime::lifecycle::inspect::{RunState, Status};
use vroot_runtime::lifecycle::stop::Stopped;

pub fn stopped_line(name: &str, stopped: Stopped) -> String {
    match stopped {
        Stopped::AlreadyStopped => format!("{name}: already stopped"),
        Stopped::Gracefully => format!("{name}: stopped"),
        Stopped::Killed => format!("{name}: stopped (killed: it did not power off in time)"),
    }
}

fn state_word(state: RunState) -> &'static str {
    match state {
        RunState::Running => "running",
        RunState::Stopped => "stopped",
        RunState::Starting => "starting",
        RunState::Stopping => "stopping",
        RunState::Fenced => "fenced",
    }
}

pub fn print_status(status: &Status, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let mut line = format!("{}: {}", status.name, state_word(status.state));
    if let Some(pid) = status.init_pid {
        line.push_str(&format!(", init pid {pid}"));
    }
    if let Some(since) = &status.started_at {
        line.push_str(&format!(", since {since}"));
    }
    if !matches!(status.state, RunState::Stopped | RunState::Fenced) && !status.supervisor_alive {
        line.push_str(", supervisor DEAD (run `vroot stop` to clean up)");
    }
    if let Some(root) = &status.root {
        line.push_str(&format!(", root {}", root.display()));
    }
    if let Some(storage) = &status.storage {
        line.push_str(&format!(", storage {}", storage.health));
    }
    if !status.network.is_empty() {
        let links: Vec<String> = status
            .network
            .iter()
            .map(|link| {
                let source = link
                    .host_name
                    .clone()
                    .or_else(|| link.device.as_ref().map(|d| d.original_name.clone()));
                match source {
                    Some(source) => format!("{} ({} {source})", link.name, link.mode),
                    None => format!("{} ({})", link.name, link.mode),
                }
            })
            .collect();
        line.push_str(&format!(", links {}", links.join(" ")));
    }
    if let Some(fenced) = &status.fenced {
        line.push_str(&format!(
            "{} since {} ({}; `vroot unfence {}` clears it)",
            if status.state == RunState::Fenced {
                ""
            } else {
                ", fenced"
            },
            fenced.since,
            fenced.reason,
            status.name
        ));
    }
    println!("{line}");
    Ok(())
}

pub fn print_fence(result: &FenceResult, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(result)?);
        return Ok(());
    }
    let report = &result.report;
    if result.already_off {
        println!("{}: fenced (nothing was running)", result.name);
        return Ok(());
    }
    let line = format!("{}: {}", result.name, report.summary());
    if result.verified {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
    Ok(())
}

pub fn print_list(statuses: &[Status], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(statuses)?);
        return Ok(());
    }
    println!("{:<24} {:<9} {:>8}  STARTED", "NAME", "STATE", "INIT");
    for status in statuses {
        let pid = status
            .init_pid
            .map(|p| p.to_string())
            .unwrap_or_else(|| "-".into());
        let since = status.started_at.clone().unwrap_or_else(|| "-".into());
        println!(
            "{:<24} {:<9} {:>8}  {since}",
            status.name,
            state_word(status.state),
            pid
        );
    }
    Ok(())
}

pub fn print_findings(name: &str, findings: &[Finding], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(findings)?);
        return Ok(());
    }
    for finding in findings {
        println!(
            "{}: {}\n    fix: {}",
            finding.path, finding.problem, finding.fix
        );
    }
    match findings.len() {
        0 => println!("{name}: the shared root holds no host-unique content"),
        count => println!("{name}: {count} finding(s)"),
    }
    Ok(())
}

pub fn print_actions(name: &str, layer: &std::path::Path, actions: &[Action]) {
    for action in actions {
        println!("{}: {}", action.path, action.what);
    }
    println!(
        "{name}: per-host layer {} ready ({} change{})",
        layer.display(),
        actions.len(),
        if actions.len() == 1 { "" } else { "s" }
    );
}

fn state_text(state: State) -> &'static str {
    match state {
        State::Ok => "ok",
        State::Missing => "missing (made at the next start)",
        State::Outdated => "outdated",
        State::TemplateMissing => "TEMPLATE MISSING",
        State::SeedChanged => "SHARED ORIGINAL CHANGED",
        State::Skipped => "skipped",
    }
}

pub fn print_layer_status(status: &LayerStatus, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let mode = match status.mode {
        LayerMode::Bind => "bind",
        LayerMode::Overlayfs => "overlayfs",
    };
    println!(
        "layer {} (mode {mode}){}",
        status.layer.display(),
        if status.exists {
            ""
        } else {
            ", not created yet"
        }
    );
    let width = status
        .entries
        .iter()
        .map(|entry| entry.path.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:width$}  {:6}  {:24}  {:32}  STATE",
        "PATH", "MODE", "HOW", "SOURCE"
    );
    let (skipped, applied): (Vec<_>, Vec<_>) = status
        .entries
        .iter()
        .partition(|entry| matches!(entry.placement, Placement::Skipped { .. }));
    for entry in applied {
        let how = entry.placement.describe();
        println!(
            "{:width$}  {:6}  {:24}  {:32}  {}",
            entry.path,
            entry.mode.to_string(),
            how,
            entry.source,
            state_text(entry.state)
        );
        if let Some(note) = &entry.note {
            println!("{:width$}    └ {note}", "");
        }
    }
    // Built-in entries the root has no place for are many and expected;
    // one line each would bury the rest (`--json` has their reasons).
    let (builtin, declared): (Vec<_>, Vec<_>) = skipped.into_iter().partition(|entry| {
        entry
            .note
            .as_deref()
            .is_some_and(|n| n.starts_with("the shared root has no"))
    });
    for entry in declared {
        println!(
            "{:width$}  {:6}  skipped: {}",
            entry.path,
            entry.mode.to_string(),
            entry.note.as_deref().unwrap_or_default()
        );
    }
    if !builtin.is_empty() {
        let paths: Vec<&str> = builtin.iter().map(|entry| entry.path.as_str()).collect();
        println!(
            "not in this root, skipped ({}): {}",
            paths.len(),
            paths.join(" ")
        );
    }
    for path in &status.undeclared {
        println!("written here, not declared (stays on this host): {path}");
    }
    for path in &status.shared_written {
        println!("SHARED PATH WRITTEN on this host (the others do not see it): {path}");
    }
    Ok(())
}

pub fn print_differences(
    name: &str,
    other: &str,
    differences: &[Difference],
    json: bool,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(differences)?);
        return Ok(());
    }
    for difference in differences {
        let change = match difference.change {
            Change::OnlyInFirst => format!("only in {name}"),
            Change::OnlyInSecond => format!("only in {other}"),
            change => change.describe().to_string(),
        };
        println!("{}: {change}", difference.path);
    }
    Ok(())
}
