//! `vroot overlay diff`: how two per-host layers differ, path by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::tree::{Kind, Stat, Tree};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Only the first layer has it (and, for a directory, all below it).
    OnlyInFirst,
    OnlyInSecond,
    /// File, directory, symlink or other.
    Kind,
    Content,
    Mode,
    Owner,
}

impl Change {
    pub fn describe(self) -> &'static str {
        match self {
            Change::OnlyInFirst => "only in the first",
            Change::OnlyInSecond => "only in the second",
            Change::Kind => "different kind",
            Change::Content => "different content",
            Change::Mode => "different permissions",
            Change::Owner => "different owner",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub path: String,
    pub change: Change,
}

fn listing(tree: &Tree) -> std::io::Result<BTreeMap<PathBuf, Stat>> {
    Ok(tree.walk(Path::new("/"))?.into_iter().collect())
}

fn same_content(first: &Tree, second: &Tree, path: &Path, kind: Kind) -> std::io::Result<bool> {
    Ok(match kind {
        Kind::File | Kind::Symlink => first.digest(path)? == second.digest(path)?,
        Kind::Dir | Kind::Other => true,
    })
}

/// Every difference between the two layers' trees, sorted by path. Below a
/// path only one of them has, nothing more is listed.
pub fn diff(first: &Tree, second: &Tree) -> std::io::Result<Vec<Difference>> {
    let first_list = listing(first)?;
    let second_list = listing(second)?;
    let mut paths: Vec<&PathBuf> = first_list.keys().chain(second_list.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut differences = Vec::new();
    let mut reported_alone: Option<PathBuf> = None;
    for path in paths {
        if reported_alone
            .as_ref()
            .is_some_and(|top| path.starts_with(top))
        {
            continue;
        }
        let change = match (first_list.get(path), second_list.get(path)) {
            (Some(_), None) => Some(Change::OnlyInFirst),
            (None, Some(_)) => Some(Change::OnlyInSecond),
            (Some(a), Some(b)) if a.kind != b.kind => Some(Change::Kind),
            (Some(a), Some(b)) => {
                if !same_content(first, second, path, a.kind)? {
                    Some(Change::Content)
                } else if a.mode != b.mode {
                    Some(Change::Mode)
                } else if (a.uid, a.gid) != (b.uid, b.gid) {
                    Some(Change::Owner)
                } else {
                    None
                }
            }
            (None, None) => None,
        };
        if matches!(change, Some(Change::OnlyInFirst | Change::OnlyInSecond)) {
            reported_alone = Some(path.clone());
        }
        if let Some(change) = change {
            differences.push(Difference {
                path: path.display().to_string(),
                change,
            });
        }
    }
    Ok(differences)
}
