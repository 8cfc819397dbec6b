//! What `vroot` prints: results on stdout, one line per fact, or JSON.

use anyhow::Result;
use vroot_overlays::lint::Finding;
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
    if status.state != RunState::Stopped && !status.supervisor_alive {
        line.push_str(", supervisor DEAD (run `vroot stop` to clean up)");
    }
    if let Some(root) = &status.root {
        line.push_str(&format!(", root {}", root.display()));
    }
    println!("{line}");
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
