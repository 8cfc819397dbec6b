//! What `vroot doctor` prints: a table, one line per check (`ok`, `FAIL`
//! or `skip`, its group and name, what was found, and for a failure the
//! fix), then a summary line; or the report as JSON.

use anyhow::Result;
use vroot_bootstrap::doctor::{Check, DoctorReport, Status};

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Fail => "FAIL",
        Status::Skip => "skip",
    }
}

/// One line per check, the columns aligned.
pub fn table(report: &DoctorReport) -> Vec<String> {
    let label = |check: &Check| format!("{} {}", check.group.as_str(), check.name);
    let width = report
        .checks
        .iter()
        .map(|check| label(check).chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<String> = report
        .checks
        .iter()
        .map(|check| {
            let mut line = format!(
                "{:<4}  {:<width$}  {}",
                status_word(check.status),
                label(check),
                check.detail
            );
            if let Some(fix) = check.fix.as_deref().filter(|_| !check.ok) {
                line.push_str(&format!(" — fix: {fix}"));
            }
            line
        })
        .collect();
    let failed = report.failed().count();
    lines.push(if failed == 0 {
        format!("all {} checks passed", report.checks.len())
    } else {
        format!("{failed} of {} checks failed", report.checks.len())
    });
    lines
}

pub fn print(report: &DoctorReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        for line in table(report) {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vroot_bootstrap::doctor::Group;

    #[test]
    fn prints_one_aligned_line_per_check_with_the_fix() {
        let report = DoctorReport {
            ok: false,
            checks: vec![
                Check::pass(Group::Kernel, "pidfd", "pidfd_open works".into()),
                Check::fail(
                    Group::Kernel,
                    "fusectl",
                    "not mounted".into(),
                    "mount -t fusectl fusectl /sys/fs/fuse/connections".into(),
                ),
                Check::skip(Group::Units, "unit:vroot@.service", "no systemd".into()),
            ],
        };
        assert_eq!(
            table(&report),
            vec![
                "ok    kernel pidfd               pidfd_open works",
                "FAIL  kernel fusectl             not mounted — fix: mount -t fusectl fusectl /sys/fs/fuse/connections",
                "skip  units unit:vroot@.service  no systemd",
                "1 of 3 checks failed",
            ]
        );
    }
}
