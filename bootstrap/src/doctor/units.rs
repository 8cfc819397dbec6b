//! The systemd units `vroot install-units` writes: present, the same as it
//! would write them now (for the binary they run and the current
//! `storage.toml`), and running a binary that exists.
//!
//! Without `--units-dir`, the check looks in `/etc/systemd/system` and is
//! skipped (not failed) on a host that does not run systemd: such a host
//! starts vroot from its own boot scripts.

use std::path::{Path, PathBuf};

use crate::storage::StorageConfig;
use crate::units::{CONTAINER_UNIT, STORAGE_UNIT};

use super::{Check, Group};

/// Where `vroot install-units` writes by default.
pub const DEFAULT_UNITS_DIR: &str = "/etc/systemd/system";
/// Where the Debian package installs its units; those in
/// `/etc/systemd/system` take precedence.
pub const PACKAGED_UNITS_DIR: &str = "/lib/systemd/system";

/// What the `ExecStart=` line of each unit runs after the binary.
const EXEC_ARGUMENTS: &[(&str, &str)] = &[
    (STORAGE_UNIT, " storage mount"),
    (CONTAINER_UNIT, " start --foreground %i"),
];

/// What the unit checks look at.
pub(crate) struct Inputs<'a> {
    /// `--units-dir`, if given.
    pub dir: Option<&'a Path>,
    pub storage: Option<&'a StorageConfig>,
    /// This vroot binary.
    pub binary: &'a Path,
    /// Whether looking at a path may hang (it is on the shared storage or
    /// another remote filesystem), and why.
    pub risky: &'a dyn Fn(&Path) -> Option<String>,
    /// The host runs systemd (`/run/systemd/system` exists).
    pub systemd: bool,
}

pub(crate) fn checks(inputs: &Inputs) -> Vec<Check> {
    let names = [STORAGE_UNIT, CONTAINER_UNIT];
    let dir = inputs
        .dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_UNITS_DIR));
    if inputs.dir.is_none() && !inputs.systemd {
        return names
            .iter()
            .map(|name| {
                Check::skip(
                    Group::Units,
                    &unit_check_name(name),
                    "this host does not run systemd (no /run/systemd/system): its boot scripts run `vroot storage mount` and `vroot start`; --units-dir checks units anyway".to_string(),
                )
            })
            .collect();
    }
    if let Some(reason) = (inputs.risky)(&dir) {
        return names
            .iter()
            .map(|name| {
                Check::fail(
                    Group::Units,
                    &unit_check_name(name),
                    format!("{} is not read: {reason}", dir.display()),
                    format!(
                        "keep the units on this host's own disk: {}",
                        install_command(inputs, &dir, None)
                    ),
                )
            })
            .collect();
    }
    // The container unit does not depend on the storage: without a usable
    // storage.toml it is still compared, with any storage.
    let fallback = StorageConfig::local_default(Path::new("/etc/vroot/storage.toml"));
    names
        .iter()
        .map(|name| {
            let packaged = Path::new(PACKAGED_UNITS_DIR).join(name);
            if inputs.dir.is_none() && !dir.join(name).exists() && packaged.exists() {
                return packaged_unit(name, &packaged);
            }
            let storage = inputs
                .storage
                .or_else(|| (*name == CONTAINER_UNIT).then_some(&fallback));
            unit(inputs, &dir, name, storage)
        })
        .collect()
}

/// A unit only the package installed: fine as long as it is the package's
/// own (it fits any storage.toml, with the default deadlines).
fn packaged_unit(name: &str, path: &Path) -> Check {
    let check = unit_check_name(name);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let arguments = EXEC_ARGUMENTS
        .iter()
        .find(|(unit, _)| *unit == name)
        .map(|(_, arguments)| *arguments)
        .unwrap_or_default();
    let expected = exec_binary(&text, arguments).and_then(|binary| {
        crate::units::render_packaged(&binary)
            .into_iter()
            .find(|(unit, _)| unit == name)
            .map(|(_, content)| content)
    });
    if expected.as_deref() == Some(text.as_str()) {
        Check::pass(
            Group::Units,
            &check,
            format!(
                "{} from the vroot package (`vroot install-units` would fit it to storage.toml)",
                path.display()
            ),
        )
    } else {
        Check::fail(
            Group::Units,
            &check,
            format!("{} is not the vroot package's unit", path.display()),
            "reinstall the vroot package, or run `vroot install-units`".to_string(),
        )
    }
}

fn unit_check_name(name: &str) -> String {
    format!("unit:{name}")
}

/// "vroot install-units --dir D --binary B, then systemctl daemon-reload".
fn install_command(inputs: &Inputs, dir: &Path, binary: Option<&Path>) -> String {
    let mut command = "vroot install-units".to_string();
    if dir != Path::new(DEFAULT_UNITS_DIR) {
        command.push_str(&format!(" --dir {}", dir.display()));
    }
    if let Some(binary) = binary.filter(|binary| *binary != inputs.binary) {
        command.push_str(&format!(" --binary {}", binary.display()));
    }
    if inputs.systemd {
        command.push_str(", then systemctl daemon-reload");
    }
    command
}

fn unit(inputs: &Inputs, dir: &Path, name: &str, storage: Option<&StorageConfig>) -> Check {
    let check = unit_check_name(name);
    let path = dir.join(name);
    let fail = |detail: String, binary: Option<&Path>| {
        Check::fail(
            Group::Units,
            &check,
            detail,
            install_command(inputs, dir, binary),
        )
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return fail(format!("{} does not exist", path.display()), None)
        }
        Err(error) => return fail(format!("cannot read {}: {error}", path.display()), None),
    };
    let arguments = EXEC_ARGUMENTS
        .iter()
        .find(|(unit, _)| *unit == name)
        .map(|(_, arguments)| *arguments)
        .unwrap_or_default();
    let Some(binary) = exec_binary(&text, arguments) else {
        return fail(
            format!(
                "{} was not written by `vroot install-units` (no `ExecStart=… {}` line)",
                path.display(),
                arguments.trim()
            ),
            None,
        );
    };
    if let Some(reason) = (inputs.risky)(&binary) {
        return fail(
            format!("{} runs {}: {reason}", path.display(), binary.display()),
            None,
        );
    }
    if !binary.is_file() {
        return fail(
            format!(
                "{} runs {}, which does not exist",
                path.display(),
                binary.display()
            ),
            None,
        );
    }
    let Some(storage) = storage else {
        return Check::pass(
            Group::Units,
            &check,
            format!(
                "{} runs {} (not compared: storage.toml is not usable)",
                path.display(),
                binary.display()
            ),
        );
    };
    let expected = crate::units::render(&binary, storage)
        .into_iter()
        .find(|(unit, _)| unit == name)
        .map(|(_, content)| content)
        .unwrap_or_default();
    if text != expected {
        let why = if name == STORAGE_UNIT {
            "storage.toml changed since it was written, or it was edited (use a drop-in)"
        } else {
            "it was edited (use a drop-in) or written by another vroot version"
        };
        return fail(
            format!(
                "{} differs from what `vroot install-units` writes now: {why}",
                path.display()
            ),
            Some(&binary),
        );
    }
    Check::pass(
        Group::Units,
        &check,
        format!(
            "{} is up to date, runs {}",
            path.display(),
            binary.display()
        ),
    )
}

/// The program of the unit's `ExecStart=` line, which runs it with
/// `arguments`; undoes `exec_line`'s escaping.
pub(crate) fn exec_binary(unit: &str, arguments: &str) -> Option<PathBuf> {
    let word = unit
        .lines()
        .find_map(|line| line.strip_prefix("ExecStart="))?
        .strip_suffix(arguments)?;
    let unquoted = match word
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' { chars.next()? } else { c });
            }
            out
        }
        None => word.to_string(),
    };
    let binary = unquoted.replace("%%", "%").replace("$$", "$");
    (!binary.is_empty() && binary.starts_with('/')).then(|| PathBuf::from(binary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_the_binary_of_rendered_units() {
        let storage = StorageConfig::local_default(Path::new("/etc/vroot/storage.toml"));
        for binary in [
            "/usr/sbin/vroot",
            "/opt/v 1/vroot",
            "/opt/100%/$x/vroot",
            "/opt/a\"b/vroot",
        ] {
            for (name, content) in crate::units::render(Path::new(binary), &storage) {
                let arguments = EXEC_ARGUMENTS
                    .iter()
                    .find(|(unit, _)| *unit == name)
                    .unwrap()
                    .1;
                assert_eq!(
                    exec_binary(&content, arguments),
                    Some(PathBuf::from(binary)),
                    "{name} {binary}"
                );
            }
        }
        assert_eq!(
            exec_binary("[Service]\nExecStart=/bin/true\n", " storage mount"),
            None
        );
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vroot-doctor-units-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn checks_presence_and_freshness() {
        let dir = scratch("fresh");
        let binary = std::env::current_exe().unwrap();
        let storage = StorageConfig::local_default(Path::new("/etc/vroot/storage.toml"));
        let never = |_: &Path| None;
        let inputs = Inputs {
            dir: Some(&dir),
            storage: Some(&storage),
            binary: &binary,
            risky: &never,
            systemd: false,
        };
        let missing = checks(&inputs);
        assert_eq!(missing.len(), 2);
        assert!(missing.iter().all(|check| !check.ok));
        let fix = missing[0].fix.as_deref().unwrap();
        assert_eq!(fix, format!("vroot install-units --dir {}", dir.display()));

        crate::units::install(&dir, &binary, &storage).unwrap();
        let installed = checks(&inputs);
        assert!(installed.iter().all(|check| check.ok), "{installed:?}");

        let nfs = StorageConfig::from_toml_str(
            "[storage]\ntype = \"nfs\"\nsource = \"192.0.2.1:/x\"\n",
            Path::new("/etc/vroot/storage.toml"),
        )
        .unwrap();
        let stale = checks(&Inputs {
            storage: Some(&nfs),
            ..inputs
        });
        assert!(!stale[0].ok, "{stale:?}");
        assert!(
            stale[0].detail.contains("storage.toml changed"),
            "{stale:?}"
        );
        assert!(stale[1].ok, "{stale:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn skipped_without_systemd_unless_a_dir_is_given() {
        let binary = PathBuf::from("/usr/sbin/vroot");
        let never = |_: &Path| None;
        let skipped = checks(&Inputs {
            dir: None,
            storage: None,
            binary: &binary,
            risky: &never,
            systemd: false,
        });
        assert!(skipped
            .iter()
            .all(|check| check.status == super::super::Status::Skip && check.ok));
    }
}
