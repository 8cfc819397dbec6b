//! The systemd units `vroot install-units` writes: checked by
//! `systemd-analyze verify` (Debian package `systemd`; see
//! scripts/install-deps.sh), and their ordering read back from the files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use vroot_bootstrap::storage::StorageConfig;
use vroot_bootstrap::units::{self, CONTAINER_UNIT, STORAGE_UNIT};

struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/vroot-units-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch { dir }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn storage(text: &str) -> StorageConfig {
    StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml")).unwrap()
}

fn nfs() -> StorageConfig {
    storage("[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/export/vz\"\nmount_timeout = 60\n")
}

/// `systemd-analyze verify` checks that Exec binaries exist: use a real one.
fn binary() -> PathBuf {
    std::env::current_exe().unwrap()
}

/// Section -> key -> values (a key may repeat, and holds space-separated
/// unit lists).
fn parse_unit(text: &str) -> HashMap<String, HashMap<String, Vec<String>>> {
    let mut sections: HashMap<String, HashMap<String, Vec<String>>> = HashMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = name.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value");
        sections
            .entry(current.clone())
            .or_default()
            .entry(key.to_string())
            .or_default()
            .extend(value.split_whitespace().map(str::to_string));
    }
    sections
}

fn values<'a>(
    unit: &'a HashMap<String, HashMap<String, Vec<String>>>,
    section: &str,
    key: &str,
) -> &'a [String] {
    unit.get(section)
        .and_then(|keys| keys.get(key))
        .map_or(&[], Vec::as_slice)
}

fn one_value(
    unit: &HashMap<String, HashMap<String, Vec<String>>>,
    section: &str,
    key: &str,
) -> String {
    values(unit, section, key).join(" ")
}

/// Runs `systemd-analyze verify` on files in `dir`; returns the lines of its
/// output that are about our units (it may also complain about the host's
/// own units when PID 1 is not systemd).
fn verify(dir: &Path, files: &[&str]) -> Vec<String> {
    let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .expect("systemd-analyze is missing: apt-get install systemd (scripts/install-deps.sh)");
    let output = Command::new(analyze)
        .arg("verify")
        // Fail on problems in the files named, not in units they pull in.
        .arg("--recursive-errors=no")
        .args(files.iter().map(|file| dir.join(file)))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "systemd-analyze verify failed:\n{text}"
    );
    text.lines()
        .filter(|line| line.contains("vroot") || line.contains(dir.to_str().unwrap()))
        .map(str::to_string)
        .collect()
}

#[test]
fn installed_units_pass_systemd_analyze_verify() {
    for (name, config) in [
        ("nfs", nfs()),
        ("local", storage("[storage]\ntype = \"local\"\n")),
        ("9p", storage("[storage]\ntype = \"9p\"\nsource = \"vz\"\n")),
    ] {
        let scratch = Scratch::new(name);
        let written = units::install(&scratch.dir, &binary(), &config).unwrap();
        assert_eq!(
            written,
            vec![
                scratch.dir.join(STORAGE_UNIT),
                scratch.dir.join(CONTAINER_UNIT)
            ]
        );
        // An instance is verified through a copy named like one, next to
        // its template.
        std::fs::copy(
            scratch.dir.join(CONTAINER_UNIT),
            scratch.dir.join("vroot@demo.service"),
        )
        .unwrap();
        let complaints = verify(
            &scratch.dir,
            &[STORAGE_UNIT, CONTAINER_UNIT, "vroot@demo.service"],
        );
        assert!(complaints.is_empty(), "{name}: {complaints:#?}");
        let leftovers: Vec<_> = std::fs::read_dir(&scratch.dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|file| file.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

#[test]
fn verify_catches_a_broken_unit() {
    // The check above means something: a missing binary fails verify.
    let scratch = Scratch::new("broken");
    units::install(&scratch.dir, Path::new("/nonexistent/vroot"), &nfs()).unwrap();
    let analyze = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--recursive-errors=no")
        .arg(scratch.dir.join(STORAGE_UNIT))
        .output()
        .unwrap();
    assert!(!analyze.status.success());
    assert!(String::from_utf8_lossy(&analyze.stderr).contains("/nonexistent/vroot"));
}

#[test]
fn containers_are_ordered_after_the_storage_they_require() {
    let rendered = units::render(Path::new("/usr/sbin/vroot"), &nfs());
    let names: Vec<&str> = rendered.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, [STORAGE_UNIT, CONTAINER_UNIT]);
    let container = parse_unit(&rendered[1].1);
    assert!(values(&container, "Unit", "Requires").contains(&STORAGE_UNIT.to_string()));
    assert!(values(&container, "Unit", "After").contains(&STORAGE_UNIT.to_string()));
    assert_eq!(
        one_value(&container, "Service", "ExecStart"),
        "/usr/sbin/vroot start --foreground %i"
    );
    assert_eq!(
        one_value(&container, "Service", "ExecStop"),
        "-/usr/sbin/vroot stop %i"
    );
    assert_eq!(one_value(&container, "Service", "Restart"), "on-failure");
    assert_eq!(
        one_value(&container, "Service", "RestartPreventExitStatus"),
        "6"
    );
    assert_eq!(one_value(&container, "Service", "KillMode"), "mixed");
    assert_eq!(
        one_value(&container, "Install", "WantedBy"),
        "multi-user.target"
    );

    let storage_unit = parse_unit(&rendered[0].1);
    assert_eq!(one_value(&storage_unit, "Service", "Type"), "oneshot");
    assert_eq!(
        one_value(&storage_unit, "Service", "RemainAfterExit"),
        "yes"
    );
    assert_eq!(
        one_value(&storage_unit, "Service", "ExecStart"),
        "/usr/sbin/vroot storage mount"
    );
    assert_eq!(
        one_value(&storage_unit, "Service", "ExecStop"),
        "/usr/sbin/vroot storage umount"
    );
    assert!(values(&storage_unit, "Unit", "Wants").contains(&"network-online.target".to_string()));
    assert!(values(&storage_unit, "Unit", "After").contains(&"network-online.target".to_string()));
    assert!(values(&storage_unit, "Unit", "Before").contains(&"remote-fs.target".to_string()));
    // 60 s of attempts + 3 probes of 5 s + 30 s of slack.
    assert_eq!(
        one_value(&storage_unit, "Service", "TimeoutStartSec"),
        "105"
    );
    assert!(one_value(&storage_unit, "Unit", "Description").contains("/vz/private"));
}

#[test]
fn local_storage_waits_for_no_network() {
    let rendered = units::render(
        Path::new("/usr/sbin/vroot"),
        &storage("[storage]\ntype = \"local\"\n"),
    );
    let storage_unit = parse_unit(&rendered[0].1);
    assert!(values(&storage_unit, "Unit", "Wants").is_empty());
    assert!(values(&storage_unit, "Unit", "After").is_empty());
    assert!(values(&storage_unit, "Unit", "Before").is_empty());
}

#[test]
fn a_relative_binary_is_refused() {
    let scratch = Scratch::new("relative");
    let error = units::install(&scratch.dir, Path::new("vroot"), &nfs())
        .unwrap_err()
        .to_string();
    assert!(error.contains("must be an absolute path"), "{error}");
    assert!(!scratch.dir.exists());
}
