//! Where each entry's per-host copy goes and how it is laid over the shared
//! root: the decisions, made from the config and what the shared root and
//! the layer hold, before anything is written or mounted.
//!
//! In `bind` mode (the shared root stays read-write):
//! - a directory is bound from the layer over the shared one;
//! - a file gets its parent directory overlaid (lower: the shared
//!   directory, upper: the layer's copy of it), so that `rename()` onto the
//!   file (sed -i, package tools) works and stays per-host. Writes to other
//!   names in that directory then stay per-host too; `overlay status` lists
//!   them;
//! - unless that parent holds a shared path (`/etc` holds `/etc/passwd`):
//!   overlaying it would make the shared path per-host, so the file alone
//!   is bound, and `rename()` onto it fails with EBUSY;
//! - nothing is ever created in the shared root: an entry whose mount point
//!   the shared root lacks is left out (built-in) or refused (declared).
//!
//! In `overlayfs` mode the whole layer is the upper of a root-wide overlay,
//! so every entry is simply a file or directory in the upper.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::config::{Entry, LayerMode, Origin, OverlayConfig};
use crate::manifest::Mode;
use crate::tree::{Kind, Tree};

/// How an entry is provided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "how")]
pub enum Placement {
    /// The layer's copy is bound over the path.
    Bind { readonly: bool },
    /// The path's parent directory is an overlay whose upper is the layer's
    /// copy of that directory.
    ParentOverlay { parent: String },
    /// The path lies in another entry's per-host directory.
    Inside { entry: String },
    /// `overlayfs` mode: the path is in the root-wide upper.
    Upper,
    /// A fresh tmpfs at every boot.
    Tmpfs,
    /// Not applied, for the reason given.
    Skipped { reason: String },
}

impl Placement {
    pub fn describe(&self) -> String {
        match self {
            Placement::Bind { readonly: true } => "bind (read-only)".into(),
            Placement::Bind { readonly: false } => "bind".into(),
            Placement::ParentOverlay { parent } => format!("overlay of {parent}"),
            Placement::Inside { entry } => format!("inside {entry}"),
            Placement::Upper => "overlayfs upper".into(),
            Placement::Tmpfs => "tmpfs".into(),
            Placement::Skipped { reason } => format!("skipped: {reason}"),
        }
    }

    pub fn is_applied(&self) -> bool {
        !matches!(self, Placement::Skipped { .. })
    }
}

/// Whether an entry is one file (or, for a pattern, several) or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub entry: Entry,
    pub kind: EntryKind,
    pub placement: Placement,
}

/// A mount the container's init makes, in order, after the root is in place.
/// Sources are in the layer's `root/` at the same path as the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerMount {
    Bind {
        target: String,
        readonly: bool,
    },
    /// lower: the target as the root shows it; upper: the layer's copy;
    /// work: `work/NAME` in the layer.
    ParentOverlay {
        target: String,
        work: String,
    },
    Tmpfs {
        target: String,
        mode: u32,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mode: LayerMode,
    /// Per-host entries, sorted by path.
    pub items: Vec<Item>,
    /// The shared paths, for status.
    pub shared: Vec<Entry>,
    pub mounts: Vec<LayerMount>,
    /// `overlayfs` mode: the root overlay's work directory name.
    pub root_work: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("`{field}`: {reason}")]
    Declared { field: String, reason: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Refuses a `gen` entry whose template does not exist, unless its
/// `on_missing` says what to do instead: `start` checks this before it
/// makes anything (`overlay status` shows it as a state instead).
pub fn check_templates(config: &OverlayConfig) -> Result<(), PlanError> {
    for entry in &config.entries {
        let (Some(template), Origin::Config { index }) = (&entry.template, entry.origin) else {
            continue;
        };
        if entry.on_missing == crate::config::OnMissing::Fail && !template.exists() {
            return Err(PlanError::Declared {
                field: format!("overlay.path[{index}].template"),
                reason: format!(
                    "{} does not exist; create it, or set on_missing = \"copy-default\" or \"create\"",
                    template.display()
                ),
            });
        }
    }
    Ok(())
}

/// The name of the root overlay's work directory in `work/`.
pub const ROOT_WORK: &str = "root";

/// A parent overlay's work directory name: its path with `/` as `%`
/// (`%` itself doubled), prefixed so it never equals [`ROOT_WORK`].
pub fn work_name(target: &str) -> String {
    format!("dir{}", target.replace('%', "%%").replace('/', "%"))
}

struct Planner<'a> {
    shared: &'a Tree,
    layer: Option<&'a Tree>,
    protected: Vec<String>,
}

impl Planner<'_> {
    fn shared_kind(&self, path: &str) -> Result<Option<Kind>, PlanError> {
        self.shared
            .lstat(Path::new(path))
            .map(|stat| stat.map(|s| s.kind))
            .map_err(|source| PlanError::Read {
                path: self.shared.display(Path::new(path)),
                source,
            })
    }

    fn layer_kind(&self, path: &str) -> Option<Kind> {
        self.layer
            .and_then(|layer| layer.lstat(Path::new(path)).ok().flatten())
            .map(|s| s.kind)
    }

    /// A file or a directory: from the mode, the template, the shared root
    /// or the layer, in that order; a file when nothing tells.
    fn kind(&self, entry: &Entry) -> Result<EntryKind, PlanError> {
        if matches!(entry.mode, Mode::Skel | Mode::Empty | Mode::Tmp) {
            return Ok(EntryKind::Dir);
        }
        if entry.is_glob() {
            return Ok(EntryKind::File);
        }
        if let Some(template) = &entry.template {
            return Ok(if template.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            });
        }
        let found = match self.shared_kind(&entry.path)? {
            Some(kind) => Some(kind),
            None => self.layer_kind(&entry.path),
        };
        Ok(if found == Some(Kind::Dir) {
            EntryKind::Dir
        } else {
            EntryKind::File
        })
    }

    /// Whether overlaying `dir` would overlay a shared path.
    fn is_protected(&self, dir: &str) -> bool {
        dir == "/"
            || self.protected.iter().any(|shared| {
                shared == dir
                    || shared
                        .strip_prefix(dir)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
    }
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// Skips a built-in entry; refuses a declared one with the fix.
fn skip_or_refuse(entry: &Entry, reason: String, fix: &str) -> Result<Placement, PlanError> {
    match entry.origin {
        Origin::Builtin => Ok(Placement::Skipped { reason }),
        Origin::Config { index } => Err(PlanError::Declared {
            field: format!("overlay.path[{index}]"),
            reason: format!("{reason}; {fix}"),
        }),
    }
}

/// Decides every entry's placement and the mounts that realise them.
pub fn plan(
    config: &OverlayConfig,
    shared: &Tree,
    layer: Option<&Tree>,
) -> Result<Plan, PlanError> {
    let planner = Planner {
        shared,
        layer,
        protected: config.shared.iter().map(|e| e.path.clone()).collect(),
    };
    let root = shared.path().display().to_string();
    let mut items: Vec<Item> = Vec::with_capacity(config.entries.len());
    let mut mounts = Vec::new();
    let mut overlaid_parents: BTreeSet<String> = BTreeSet::new();
    // In component order a directory comes right before everything below
    // it, so the applied directories enclosing the current entry are a
    // stack (indexes into `items`): planning stays linear in the entries.
    let mut ordered: Vec<&Entry> = config.entries.iter().collect();
    ordered.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    let mut enclosing_dirs: Vec<usize> = Vec::new();

    for entry in ordered {
        let kind = planner.kind(entry)?;
        while let Some(&top) = enclosing_dirs.last() {
            if items[top].entry.covers(&entry.path) {
                break;
            }
            enclosing_dirs.pop();
        }
        // Entries nested in another applied per-host directory (or tmpfs)
        // need no mount of their own.
        let enclosing = enclosing_dirs.last().map(|&index| &items[index]);
        let placement = match (enclosing, config.mode) {
            (Some(outer), _) if outer.entry.mode == Mode::Tmp => Placement::Skipped {
                reason: format!("inside the tmpfs {}", outer.entry.path),
            },
            (Some(outer), LayerMode::Bind) if entry.mode != Mode::Tmp => Placement::Inside {
                entry: outer.entry.path.clone(),
            },
            _ => place(&planner, entry, kind, config.mode, &root, &overlaid_parents)?,
        };
        match (&placement, config.mode) {
            (Placement::Bind { readonly }, _) => mounts.push(LayerMount::Bind {
                target: entry.path.clone(),
                readonly: *readonly,
            }),
            (Placement::ParentOverlay { parent }, _) if !overlaid_parents.contains(parent) => {
                overlaid_parents.insert(parent.clone());
                mounts.push(LayerMount::ParentOverlay {
                    target: parent.clone(),
                    work: work_name(parent),
                });
            }
            (Placement::Tmpfs, _) => mounts.push(LayerMount::Tmpfs {
                target: entry.path.clone(),
                mode: tmpfs_mode(&planner, &entry.path),
            }),
            _ => {}
        }
        let encloses = kind == EntryKind::Dir && placement.is_applied() && !entry.is_glob();
        items.push(Item {
            entry: entry.clone(),
            kind,
            placement,
        });
        if encloses {
            enclosing_dirs.push(items.len() - 1);
        }
    }
    items.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
    // Parents before children: a bind inside an overlaid directory goes on
    // top of the overlay. The sort is stable, so equal depths keep path order.
    mounts.sort_by_key(|mount| {
        let target = match mount {
            LayerMount::Bind { target, .. }
            | LayerMount::ParentOverlay { target, .. }
            | LayerMount::Tmpfs { target, .. } => target,
        };
        target.matches('/').count()
    });
    Ok(Plan {
        mode: config.mode,
        items,
        shared: config.shared.clone(),
        mounts,
        root_work: (config.mode == LayerMode::Overlayfs).then(|| ROOT_WORK.to_string()),
    })
}

/// A tmpfs gets the permissions of the directory it covers (1777 for /tmp).
fn tmpfs_mode(planner: &Planner<'_>, path: &str) -> u32 {
    planner
        .shared
        .lstat(Path::new(path))
        .ok()
        .flatten()
        .filter(|stat| stat.kind == Kind::Dir)
        .map(|stat| stat.mode)
        .unwrap_or(0o1777)
}

fn place(
    planner: &Planner<'_>,
    entry: &Entry,
    kind: EntryKind,
    mode: LayerMode,
    root: &str,
    overlaid_parents: &BTreeSet<String>,
) -> Result<Placement, PlanError> {
    let parent = parent_of(entry.path.trim_end_matches('*'));
    let own_kind = if entry.is_glob() {
        None
    } else {
        planner.shared_kind(&entry.path)?
    };
    // Something found at the path means its parent is a directory; only a
    // missing path needs its parent looked at.
    let parent_kind = match own_kind {
        Some(_) => Some(Kind::Dir),
        None => planner.shared_kind(parent)?,
    };
    let in_overlaid_parent = overlaid_parents.contains(parent);
    if parent_kind != Some(Kind::Dir) && !in_overlaid_parent {
        return skip_or_refuse(
            entry,
            format!("the shared root has no directory {parent}"),
            &format!("create it there (mkdir -p {root}{parent}); vroot never writes into the shared root"),
        );
    }
    if own_kind == Some(Kind::Symlink) {
        return skip_or_refuse(
            entry,
            format!("{} is a symlink in the shared root", entry.path),
            "declare the path it points to instead",
        );
    }
    if entry.mode == Mode::Tmp {
        return if own_kind == Some(Kind::Dir) || in_overlaid_parent {
            Ok(Placement::Tmpfs)
        } else {
            skip_or_refuse(
                entry,
                format!("the shared root has no directory {}", entry.path),
                &format!("create it there (mkdir {root}{})", entry.path),
            )
        };
    }
    if mode == LayerMode::Overlayfs {
        if kind == EntryKind::Dir && own_kind.is_some_and(|k| k != Kind::Dir) {
            return skip_or_refuse(
                entry,
                format!("{} is not a directory in the shared root", entry.path),
                "fix the mode or the path",
            );
        }
        return Ok(Placement::Upper);
    }
    match kind {
        EntryKind::Dir => match own_kind {
            Some(Kind::Dir) => Ok(Placement::Bind { readonly: false }),
            None if in_overlaid_parent => Ok(Placement::Bind { readonly: false }),
            None => skip_or_refuse(
                entry,
                format!("the shared root has no directory {}", entry.path),
                &format!(
                    "create it there (mkdir {root}{}), or use mode = \"overlayfs\"",
                    entry.path
                ),
            ),
            Some(_) => skip_or_refuse(
                entry,
                format!("{} is not a directory in the shared root", entry.path),
                "fix the mode or the path",
            ),
        },
        EntryKind::File if !planner.is_protected(parent) => Ok(Placement::ParentOverlay {
            parent: parent.to_string(),
        }),
        EntryKind::File if entry.is_glob() => skip_or_refuse(
            entry,
            format!(
                "{parent} holds shared paths, so it cannot be overlaid, and a pattern needs that"
            ),
            "list the files one by one",
        ),
        EntryKind::File => match own_kind {
            Some(Kind::File) => Ok(Placement::Bind {
                readonly: entry.mode == Mode::Gen,
            }),
            None => skip_or_refuse(
                entry,
                format!(
                    "the shared root has no file {} to bind over ({parent} holds shared paths, so it is not overlaid)",
                    entry.path
                ),
                &format!(
                    "create an empty one there (touch {root}{}), or use mode = \"overlayfs\"",
                    entry.path
                ),
            ),
            Some(_) => skip_or_refuse(
                entry,
                format!("{} is not a file in the shared root", entry.path),
                "fix the mode or the path",
            ),
        },
    }
}

#[cfg(test)]
mod tests;
