//! `vroot doctor`: it passes on a prepared host (the FUSE test storage
//! mounted as the shared storage, the units installed, the layers local),
//! and each failing check is provoked once — fusectl unmounted (in a
//! private mount namespace only), the storage not mounted, a per-host layer
//! on the shared storage, the storage hung — with the fix in the output.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;
use crate::test_storage::TestStorage;

const CONTAINER: &str = "doc-web";

/// A host with its shared storage: the test storage's export, served
/// through FUSE and bind-mounted at the target by `vroot storage mount`.
struct Prepared {
    // Dropped in this order: the storage (unmounted, its daemon ended),
    // then the host (its directory removed).
    storage: TestStorage,
    host: Host,
    target: PathBuf,
    units: PathBuf,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        // The bind mount of the test storage first, so that nothing below
        // the host's directory is mounted when it is removed.
        let _ = nix::mount::umount2(&self.target, nix::mount::MntFlags::MNT_DETACH);
    }
}

impl Prepared {
    fn new(test: &str, probe_timeout: u64) -> Self {
        let host = Host::new(test);
        let export = host.dir.join("export");
        std::fs::create_dir_all(export.join(CONTAINER)).unwrap();
        let storage = TestStorage::serve(&export, &host.dir.join("private"));
        let target = host.dir.join("vz");
        std::fs::write(
            host.dir.join("etc/storage.toml"),
            format!(
                "[storage]\ntype = \"local\"\nsource = \"{}\"\ntarget = \"{}\"\nprobe_timeout = {probe_timeout}\n",
                storage.mountpoint.display(),
                target.display()
            ),
        )
        .unwrap();
        host.ok(&["storage", "mount"]);
        host.config(CONTAINER, &target.join(CONTAINER), "");
        let units = host.dir.join("units");
        host.ok(&["install-units", "--dir", units.to_str().unwrap()]);
        Prepared {
            storage,
            host,
            target,
            units,
        }
    }

    fn doctor(&self, json: bool) -> Output {
        let mut args = vec!["doctor", "--units-dir", self.units.to_str().unwrap()];
        if json {
            args.push("--json");
        }
        self.host.vroot(&args)
    }

    /// The JSON report and the exit code.
    fn report(&self) -> (i32, Value) {
        let output = self.doctor(true);
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "doctor --json printed no JSON ({error}): {}{}",
                text(&output.stdout),
                text(&output.stderr)
            )
        });
        (output.status.code().unwrap_or(-1), report)
    }
}

/// The checks that failed, by name.
fn failed(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|check| check["status"] == "fail")
        .map(|check| check["name"].as_str().unwrap().to_string())
        .collect()
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"))
}

/// The table line of one check.
fn line<'a>(table: &'a str, group: &str, name: &str) -> &'a str {
    table
        .lines()
        .find(|line| {
            let mut words = line.split_whitespace().skip(1);
            words.next() == Some(group) && words.next() == Some(name)
        })
        .unwrap_or_else(|| panic!("no line for {group} {name} in:\n{table}"))
}

#[test]
fn doctor_passes_on_a_prepared_host() {
    let prepared = Prepared::new("doc-pass", 5);
    let output = prepared.doctor(false);
    let table = text(&output.stdout);
    assert!(
        output.status.success(),
        "doctor failed ({:?}):\n{table}{}",
        output.status,
        text(&output.stderr)
    );
    assert!(text(&output.stderr).is_empty(), "{}", text(&output.stderr));
    assert!(table.trim_end().ends_with("checks passed"), "{table}");
    for (group, name) in [
        ("kernel", "namespaces"),
        ("kernel", "fusectl"),
        ("kernel", "cgroup.kill"),
        ("kernel", "clone3"),
        ("storage", "health"),
        ("placement", "layer:doc-web"),
        ("units", "unit:vroot@.service"),
    ] {
        assert!(
            line(&table, group, name).starts_with("ok "),
            "{group} {name}:\n{table}"
        );
    }
    assert!(
        line(&table, "storage", "health").contains("healthy"),
        "{table}"
    );

    // --json: the documented shape (docs/schemas/doctor.json).
    let (code, report) = prepared.report();
    assert_eq!(code, 0);
    crate::json_schemas::assert_valid("doctor", &report);
    let object = report.as_object().unwrap();
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        ["checks", "ok"],
        "{report}"
    );
    assert_eq!(report["ok"], true);
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 19, "{report}");
    for check in checks {
        let mut keys: Vec<&str> = check
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["detail", "fix", "group", "name", "ok", "status"],
            "{check}"
        );
        assert!(
            ["kernel", "storage", "placement", "units"].contains(&check["group"].as_str().unwrap()),
            "{check}"
        );
        assert!(["ok", "skip"].contains(&check["status"].as_str().unwrap()));
        assert_eq!(check["ok"], true, "{check}");
        assert!(check["fix"].is_null(), "{check}");
        assert!(!check["detail"].as_str().unwrap().is_empty(), "{check}");
    }
    assert_eq!(check(&report, "unit:vroot-storage.service")["status"], "ok");
}

#[test]
fn an_unmounted_fusectl_is_named_with_its_mount_command() {
    let prepared = Prepared::new("doc-fusectl", 5);
    let host = &prepared.host;
    // Unmounted in a mount namespace of this command's own (private
    // propagation): the host's fusectl stays mounted.
    let script =
        "umount /sys/fs/fuse/connections || exit 99; exec \"$0\" doctor --units-dir \"$1\"";
    let output = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .arg(VROOT)
        .arg(&prepared.units)
        .env("VROOT_CONFIG_DIR", host.dir.join("etc"))
        .env("VROOT_STATE_DIR", host.dir.join("run"))
        .env("VROOT_LOG_DIR", host.dir.join("log"))
        .env("VROOT_LIB_DIR", host.dir.join("lib"))
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let table = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{table}{}",
        text(&output.stderr)
    );
    let fusectl = line(&table, "kernel", "fusectl");
    assert!(fusectl.starts_with("FAIL "), "{table}");
    assert!(
        fusectl.contains("fix: mount -t fusectl fusectl /sys/fs/fuse/connections"),
        "{fusectl}"
    );
    assert_eq!(
        table
            .lines()
            .filter(|line| line.starts_with("FAIL"))
            .count(),
        1,
        "only fusectl fails:\n{table}"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mountinfo.contains(" /sys/fs/fuse/connections "),
        "the host's fusectl is still mounted"
    );
}

#[test]
fn storage_that_is_not_mounted_is_named_with_vroot_storage_mount() {
    let prepared = Prepared::new("doc-nostorage", 5);
    prepared.host.ok(&["storage", "umount"]);
    let output = prepared.doctor(false);
    let table = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{table}");
    let health = line(&table, "storage", "health");
    assert!(health.starts_with("FAIL "), "{table}");
    assert!(health.contains("not mounted"), "{health}");
    assert!(health.contains("fix: vroot storage mount"), "{health}");

    let (code, report) = prepared.report();
    assert_eq!(code, 1);
    assert_eq!(report["ok"], false);
    assert_eq!(failed(&report), ["health"], "{report}");
    let health = check(&report, "health");
    assert_eq!(health["ok"], false);
    assert!(health["fix"]
        .as_str()
        .unwrap()
        .starts_with("vroot storage mount"));
}

#[test]
fn a_layer_on_the_shared_storage_is_named_with_the_config_to_change() {
    let prepared = Prepared::new("doc-layer", 5);
    let layer = prepared.target.join("layers").join(CONTAINER);
    prepared.host.config(
        CONTAINER,
        &prepared.target.join(CONTAINER),
        &format!("[overlay]\ndir = \"{}\"", layer.display()),
    );
    let output = prepared.doctor(false);
    let table = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{table}");
    let placement = line(&table, "placement", "layer:doc-web");
    assert!(placement.starts_with("FAIL "), "{table}");
    assert!(
        placement.contains("is on the shared storage"),
        "{placement}"
    );
    let config = prepared.host.dir.join("etc/doc-web.toml");
    assert!(
        placement.contains(&format!(
            "fix: set [overlay] dir in {} to a directory on this host's own disk",
            config.display()
        )),
        "{placement}"
    );
    let (_, report) = prepared.report();
    assert_eq!(failed(&report), ["layer:doc-web"], "{report}");
}

#[test]
fn hung_storage_is_reported_within_the_probe_timeout() {
    let prepared = Prepared::new("doc-hung", 1);
    prepared.storage.hang();
    let started = Instant::now();
    let output = prepared.doctor(false);
    let elapsed = started.elapsed();
    prepared.storage.release();
    let table = text(&output.stdout);
    assert!(
        elapsed < Duration::from_secs(4),
        "doctor took {elapsed:?}:\n{table}"
    );
    assert_eq!(output.status.code(), Some(1), "{table}");
    let health = line(&table, "storage", "health");
    assert!(
        health.starts_with("FAIL ") && health.contains("hung"),
        "{table}"
    );
    assert!(health.contains("fix: "), "{health}");
    assert_eq!(
        table
            .lines()
            .filter(|line| line.starts_with("FAIL"))
            .count(),
        1,
        "only the storage's health fails:\n{table}"
    );
}
