//! The `[overlay]` table of a container's config, validated into the list
//! of entries that apply: the built-in defaults, changed, extended or
//! switched off by the config's own `[[overlay.path]]` entries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::{self, Mode};

/// How the per-host layer is laid over the shared root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerMode {
    /// The shared root stays read-write; per-host entries are mounted over it.
    #[default]
    Bind,
    /// The shared root is the read-only lower layer of an overlayfs whose
    /// upper is the per-host layer: every write the container makes is
    /// per-host.
    Overlayfs,
}

/// What to do when an entry has nothing to take its content from: a `gen`
/// entry's template is missing, a `seed`'s original is not in the shared
/// root, a `secret` vroot cannot generate is not provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnMissing {
    /// Use the shared root's own copy (for a seed: leave the entry out).
    CopyDefault,
    /// Create it empty.
    Create,
    /// Refuse to start.
    Fail,
}

/// `[overlay]` as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOverlay {
    dir: Option<PathBuf>,
    #[serde(default)]
    mode: LayerMode,
    #[serde(default = "yes")]
    defaults: bool,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    path: Vec<FilePath>,
}

fn yes() -> bool {
    true
}

/// One `[[overlay.path]]` as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePath {
    path: String,
    mode: Mode,
    template: Option<PathBuf>,
    on_missing: Option<OnMissing>,
}

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Builtin,
    /// `[[overlay.path]]` number `index` (from 0).
    Config {
        index: usize,
    },
}

/// One per-host (or shared) path that applies to the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub path: String,
    pub mode: Mode,
    pub template: Option<PathBuf>,
    pub on_missing: OnMissing,
    pub why: String,
    pub origin: Origin,
}

impl Entry {
    pub fn is_glob(&self) -> bool {
        self.path.ends_with('*')
    }

    /// Whether `path` is this entry or below it (a glob: a name it matches).
    pub fn covers(&self, path: &str) -> bool {
        covers(&self.path, path)
    }
}

fn covers(entry: &str, path: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix) && !path[prefix.len()..].contains('/'),
        None => {
            path == entry
                || path
                    .strip_prefix(entry)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// The validated `[overlay]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayConfig {
    /// The per-host layer's directory; `None`: vroot's default for the name.
    pub dir: Option<PathBuf>,
    pub mode: LayerMode,
    pub vars: BTreeMap<String, String>,
    /// Per-host entries, sorted by path.
    pub entries: Vec<Entry>,
    /// Paths that must stay shared, sorted.
    pub shared: Vec<Entry>,
}

/// One line naming the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {reason}")]
pub struct OverlayConfigError {
    pub field: String,
    pub reason: String,
}

/// Template variables vroot defines itself; `[overlay.vars]` may not
/// redefine them.
pub const BUILTIN_VARIABLES: &[&str] = &[
    "name",
    "hostname",
    "machine_id",
    "container_uuid",
    "host_name",
    "host_kernel",
    "host_arch",
    "host_addresses",
];

/// Trees vroot itself mounts fresh in every container: a per-host entry
/// there would be hidden, or would hide what vroot mounts.
const RESERVED: &[&str] = &["/proc", "/sys", "/dev", "/run"];

/// No `[overlay]` table: the built-in defaults in `bind` mode.
impl Default for FileOverlay {
    fn default() -> Self {
        FileOverlay {
            dir: None,
            mode: LayerMode::default(),
            defaults: true,
            vars: BTreeMap::new(),
            path: Vec::new(),
        }
    }
}

impl FileOverlay {
    /// Validates the table. Relative template paths are taken from
    /// `config_dir`, the directory of the config file.
    pub fn validate(self, config_dir: &Path) -> Result<OverlayConfig, OverlayConfigError> {
        let invalid = |field: String, reason: String| OverlayConfigError { field, reason };
        if let Some(dir) = &self.dir {
            if !dir.is_absolute() {
                return Err(invalid(
                    "overlay.dir".into(),
                    format!("must be an absolute path, not `{}`", dir.display()),
                ));
            }
        }
        for (key, value) in &self.vars {
            let field = format!("overlay.vars.{key}");
            if !is_identifier(key) {
                return Err(invalid(
                    field,
                    "is not a valid variable name (lowercase letters, digits and `_`, starting with a letter)".into(),
                ));
            }
            if BUILTIN_VARIABLES.contains(&key.as_str()) {
                return Err(invalid(
                    field,
                    "redefines a variable vroot sets itself; choose another name".into(),
                ));
            }
            if value.contains('\0') {
                return Err(invalid(field, "must not contain NUL bytes".into()));
            }
        }

        let builtin = |entry: &manifest::Entry| Entry {
            path: entry.path.to_string(),
            mode: entry.mode,
            template: None,
            on_missing: builtin_on_missing(entry),
            why: entry.why.to_string(),
            origin: Origin::Builtin,
        };
        let mut shared: Vec<Entry> = manifest::DEFAULTS
            .iter()
            .filter(|entry| entry.mode == Mode::Shared)
            .map(builtin)
            .collect();
        let mut per_host: Vec<Entry> = if self.defaults {
            manifest::DEFAULTS
                .iter()
                .filter(|entry| entry.mode != Mode::Shared)
                .map(builtin)
                .collect()
        } else {
            Vec::new()
        };

        let mut seen = std::collections::BTreeSet::new();
        for (index, declared) in self.path.into_iter().enumerate() {
            let field = |key: &str| format!("overlay.path[{index}].{key}");
            validate_path(&declared.path).map_err(|reason| invalid(field("path"), reason))?;
            if !seen.insert(declared.path.clone()) {
                return Err(invalid(
                    field("path"),
                    format!("`{}` is declared twice; keep one entry", declared.path),
                ));
            }
            let template = match (&declared.template, declared.mode) {
                (Some(template), Mode::Gen) => Some(config_dir.join(template)),
                (Some(_), mode) => {
                    return Err(invalid(
                        field("template"),
                        format!("is only for mode `gen`, not `{mode}`"),
                    ))
                }
                (None, _) => None,
            };
            if declared.mode == Mode::Gen
                && template.is_none()
                && !has_builtin_content(&declared.path)
            {
                return Err(invalid(
                    field("template"),
                    format!(
                        "is required: `{}` has mode `gen`, which is rendered from a template",
                        declared.path
                    ),
                ));
            }
            if declared.path.ends_with('*')
                && !matches!(declared.mode, Mode::Secret | Mode::Seed | Mode::Shared)
            {
                return Err(invalid(
                    field("path"),
                    format!(
                        "`{}`: a `*` pattern is allowed for secret and seed files only",
                        declared.path
                    ),
                ));
            }
            if declared.mode == Mode::Secret && declared.on_missing == Some(OnMissing::CopyDefault)
            {
                return Err(invalid(
                    field("on_missing"),
                    "cannot be `copy-default` for a secret: secrets are never copied from the shared root; use `create` or `fail`".into(),
                ));
            }
            if declared.mode == Mode::Shared {
                // A shared declaration switches a per-host default off.
                per_host.retain(|entry| entry.path != declared.path);
                if !shared.iter().any(|entry| entry.path == declared.path) {
                    shared.push(Entry {
                        path: declared.path,
                        mode: Mode::Shared,
                        template: None,
                        on_missing: OnMissing::Fail,
                        why: "declared shared in the config".into(),
                        origin: Origin::Config { index },
                    });
                }
                continue;
            }
            per_host.retain(|entry| entry.path != declared.path);
            let why = match declared.mode {
                Mode::Gen => "rendered from a template at every start",
                Mode::Secret => "a per-host secret",
                Mode::Seed => "copied from the shared root once, then per-host",
                Mode::Skel => "per-host directory tree",
                Mode::Empty => "per-host, starts empty",
                Mode::Tmp => "a tmpfs at every boot",
                Mode::Shared => unreachable!("handled above"),
            };
            per_host.push(Entry {
                path: declared.path,
                mode: declared.mode,
                template,
                on_missing: declared.on_missing.unwrap_or(OnMissing::Fail),
                why: why.to_string(),
                origin: Origin::Config { index },
            });
        }
        check_shared_stays_shared(&per_host, &shared)?;
        per_host.sort_by(|a, b| a.path.cmp(&b.path));
        shared.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(OverlayConfig {
            dir: self.dir,
            mode: self.mode,
            vars: self.vars,
            entries: per_host,
            shared,
        })
    }
}

/// No per-host entry may be, contain or lie inside a shared path: that
/// would overlay what every node must see alike.
fn check_shared_stays_shared(
    per_host: &[Entry],
    shared: &[Entry],
) -> Result<(), OverlayConfigError> {
    for host_entry in per_host {
        for shared_entry in shared {
            let overlaps = shared_entry.covers(&host_entry.path)
                || host_entry.covers(&shared_entry.path)
                || entry_contains(&host_entry.path, &shared_entry.path);
            if !overlaps {
                continue;
            }
            let (field, fix) = match (host_entry.origin, shared_entry.origin) {
                (Origin::Config { index }, _) => (
                    format!("overlay.path[{index}].path"),
                    "shared paths are never per-host: remove the entry".to_string(),
                ),
                (Origin::Builtin, Origin::Config { index }) => (
                    format!("overlay.path[{index}].path"),
                    format!(
                        "it lies in the built-in per-host `{}`; switch that off first with `mode = \"shared\"`",
                        host_entry.path
                    ),
                ),
                (Origin::Builtin, Origin::Builtin) => continue,
            };
            return Err(OverlayConfigError {
                field,
                reason: format!(
                    "`{}` ({}) and the shared `{}` ({}) overlap; {fix}",
                    host_entry.path, host_entry.mode, shared_entry.path, shared_entry.why
                ),
            });
        }
    }
    Ok(())
}

/// Whether `outer` (an entry's path) contains `inner` strictly below it.
fn entry_contains(outer: &str, inner: &str) -> bool {
    !outer.ends_with('*')
        && inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The built-in entries take their content from the shared root when they
/// have no template (a node's network config starts as the shared one), and
/// a secret vroot cannot make must be provided.
fn builtin_on_missing(entry: &manifest::Entry) -> OnMissing {
    match entry.mode {
        Mode::Secret => OnMissing::Fail,
        _ => OnMissing::CopyDefault,
    }
}

/// Gen paths whose content vroot knows without a template.
pub fn has_builtin_content(path: &str) -> bool {
    matches!(path, "/etc/machine-id" | "/etc/hostname")
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An entry path: absolute, normal (no `.`, `..`, `//` or trailing `/`),
/// not `/`, outside the trees vroot mounts itself, `*` only at the end.
fn validate_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "must be an absolute path inside the root, not `{path}`"
        ));
    }
    if path == "/" {
        return Err(
            "cannot be `/`; use `mode = \"overlayfs\"` to make the whole root per-host".into(),
        );
    }
    if path.contains('\0') {
        return Err("must not contain NUL bytes".into());
    }
    let components: Vec<&str> = path[1..].split('/').collect();
    if components
        .iter()
        .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(format!(
            "`{path}` is not a normal path (no `.`, `..`, `//` or trailing `/`)"
        ));
    }
    if let Some(star) = path.find('*') {
        if star != path.len() - 1 || path.ends_with("/*") {
            return Err(format!(
                "`{path}`: `*` may only end a file name, as in `/etc/ssh/ssh_host_*`"
            ));
        }
    }
    if let Some(reserved) = RESERVED.iter().find(|r| covers(r, path)) {
        return Err(format!(
            "`{path}` is inside {reserved}, which vroot mounts fresh for every container"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
