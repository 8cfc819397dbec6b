//! Placement: vroot's host-side paths (its config, state, log and lib
//! directories, every per-host layer, the binary) must not lie on the
//! shared storage, and the per-host layers must be on this host's own
//! storage.
//!
//! A path is resolved like realpath(3), one component at a time, but never
//! on a filesystem that may hang: once the walk reaches the shared storage,
//! or any network, cluster, FUSE or automount filesystem, the rest of the
//! path is taken by its text (symlinks there are not followed). Which mount
//! holds the result is read from mountinfo. So this answers at once even
//! when the storage hangs.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use vroot_runtime::config::ContainerConfig;
use vroot_runtime::mountinfo::MountEntry;
use vroot_runtime::paths::HostPaths;

use super::mounts::{classify, mount_holding, FsKind, SharedArea};
use super::{Check, Group};

/// As in the kernel: more symlinks than this on one path is a loop.
const MAX_LINKS: usize = 40;

/// What is at a path, without following a final symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Look {
    Link(PathBuf),
    Present,
    Missing,
}

/// lstat and readlink, for paths [`resolve`] has found safe to look at.
pub(crate) fn look_on_disk(path: &Path) -> Look {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => match std::fs::read_link(path) {
            Ok(target) => Look::Link(target),
            Err(_) => Look::Missing,
        },
        Ok(_) => Look::Present,
        Err(_) => Look::Missing,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub path: PathBuf,
    /// Some component does not exist (yet): the rest is the text.
    pub missing: bool,
}

enum Part {
    Root,
    Parent,
    Name(OsString),
}

fn parts(path: &Path) -> Vec<Part> {
    path.components()
        .filter_map(|component| match component {
            Component::RootDir | Component::Prefix(_) => Some(Part::Root),
            Component::CurDir => None,
            Component::ParentDir => Some(Part::Parent),
            Component::Normal(name) => Some(Part::Name(name.to_os_string())),
        })
        .collect()
}

/// Resolves the absolute `path`'s symlinks, looking (with `look`) only at
/// paths outside `untouchable` and its subtrees.
pub(crate) fn resolve(
    path: &Path,
    untouchable: &[PathBuf],
    look: &mut dyn FnMut(&Path) -> Look,
) -> Resolved {
    let mut pending: VecDeque<Part> = parts(path).into();
    let mut current = PathBuf::from("/");
    let mut by_text = false;
    let mut missing = false;
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        let name = match part {
            Part::Root => {
                current = PathBuf::from("/");
                continue;
            }
            Part::Parent => {
                current.pop();
                continue;
            }
            Part::Name(name) => name,
        };
        let next = current.join(&name);
        if by_text || untouchable.iter().any(|point| next.starts_with(point)) {
            by_text = true;
            current = next;
            continue;
        }
        match look(&next) {
            Look::Link(target) if links < MAX_LINKS => {
                links += 1;
                // A relative target continues from `current`, the link's directory.
                for part in parts(&target).into_iter().rev() {
                    pending.push_front(part);
                }
            }
            Look::Link(_) => {
                by_text = true;
                current = next;
            }
            Look::Present => current = next,
            Look::Missing => {
                missing = true;
                by_text = true;
                current = next;
            }
        }
    }
    Resolved {
        path: current,
        missing,
    }
}

/// Where a resolved path lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// At or below the storage's target (or its source, for `local`).
    BelowStorage { prefix: PathBuf },
    /// On another mount of the storage's filesystem.
    OnStorage { mount_point: PathBuf },
    Elsewhere {
        fs_type: String,
        mount_point: PathBuf,
        kind: FsKind,
    },
    /// No mount holds it (only with an empty mount table).
    Unknown,
}

pub(crate) fn judge(path: &Path, area: &SharedArea, table: &[MountEntry]) -> Verdict {
    if let Some(prefix) = area.prefixes.iter().find(|prefix| path.starts_with(prefix)) {
        return Verdict::BelowStorage {
            prefix: prefix.clone(),
        };
    }
    let Some(holder) = mount_holding(table, path) else {
        return Verdict::Unknown;
    };
    if area.device.as_ref() == Some(&holder.device) {
        return Verdict::OnStorage {
            mount_point: holder.mount_point.clone(),
        };
    }
    Verdict::Elsewhere {
        fs_type: holder.fs_type.clone(),
        mount_point: holder.mount_point.clone(),
        kind: classify(&holder.fs_type),
    }
}

/// What the checks need: the mount table, the storage's places and what
/// must not be looked at.
pub(crate) struct Context<'a> {
    pub table: &'a [MountEntry],
    pub area: &'a SharedArea,
    pub untouchable: &'a [PathBuf],
    pub look: &'a mut dyn FnMut(&Path) -> Look,
}

impl Context<'_> {
    fn place(&mut self, path: &Path) -> (Resolved, Verdict) {
        let resolved = resolve(path, self.untouchable, self.look);
        let verdict = judge(&resolved.path, self.area, self.table);
        (resolved, verdict)
    }
}

/// "/etc/vroot", "/var/lib/vroot/hosts/web (→ /srv/layers/web)", with
/// "(does not exist yet)" when it does not.
fn describe_path(path: &Path, resolved: &Resolved) -> String {
    let mut text = path.display().to_string();
    if resolved.path != path {
        text.push_str(&format!(" (→ {})", resolved.path.display()));
    }
    if resolved.missing {
        text.push_str(" (does not exist yet)");
    }
    text
}

/// The detail of a path on the shared storage.
fn on_storage(subject: &str, verdict: &Verdict) -> Option<String> {
    match verdict {
        Verdict::BelowStorage { prefix } => Some(format!(
            "{subject} is on the shared storage (below {})",
            prefix.display()
        )),
        Verdict::OnStorage { mount_point } => Some(format!(
            "{subject} is on the shared storage's filesystem (mounted at {})",
            mount_point.display()
        )),
        _ => None,
    }
}

fn where_it_is(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Elsewhere {
            fs_type,
            mount_point,
            ..
        } => format!("on {fs_type} at {}", mount_point.display()),
        _ => "on no known mount".to_string(),
    }
}

/// One of vroot's own host directories (or the binary): anywhere but the
/// shared storage.
pub(crate) fn host_path(context: &mut Context, name: &str, path: &Path, fix: String) -> Check {
    let (resolved, verdict) = context.place(path);
    let subject = describe_path(path, &resolved);
    match on_storage(&subject, &verdict) {
        Some(detail) => Check::fail(Group::Placement, name, detail, fix),
        None => Check::pass(
            Group::Placement,
            name,
            format!(
                "{subject}: {}, not the shared storage",
                where_it_is(&verdict)
            ),
        ),
    }
}

/// A per-host layer directory: on this host's own storage, not inside the
/// shared root and not containing it.
pub(crate) fn layer(
    context: &mut Context,
    name: &str,
    dir: &Path,
    root: Option<&Path>,
    fix: String,
) -> Check {
    let (resolved, verdict) = context.place(dir);
    let subject = describe_path(dir, &resolved);
    let fail = |detail: String| Check::fail(Group::Placement, name, detail, fix.clone());
    if let Some(detail) = on_storage(&subject, &verdict) {
        return fail(detail);
    }
    if let Some(root) = root.map(crate::storage::lexically_normal) {
        if resolved.path.starts_with(&root) || dir.starts_with(&root) {
            return fail(format!(
                "{subject} is inside the shared root {}",
                root.display()
            ));
        }
        if root.starts_with(&resolved.path) || root.starts_with(dir) {
            return fail(format!(
                "{subject} contains the shared root {}",
                root.display()
            ));
        }
    }
    match &verdict {
        Verdict::Elsewhere {
            kind: FsKind::Remote,
            ..
        } => fail(format!(
            "{subject} is {}, a network or cluster filesystem, not this host's own storage",
            where_it_is(&verdict)
        )),
        Verdict::Elsewhere {
            kind: FsKind::Fuse, ..
        } => fail(format!(
            "{subject} is {}: FUSE may be remote, and `vroot start` refuses a per-host layer there",
            where_it_is(&verdict)
        )),
        Verdict::Unknown => fail(format!(
            "{subject}: no mount holds it in /proc/self/mountinfo"
        )),
        _ => Check::pass(
            Group::Placement,
            name,
            format!("{subject}: {}, host-local", where_it_is(&verdict)),
        ),
    }
}

/// The layer check of one configured container.
pub(crate) fn container_layer(
    context: &mut Context,
    config: &ContainerConfig,
    paths: &HostPaths,
) -> Check {
    let default = paths.host_layer_dir(&config.name);
    let dir = config
        .overlay
        .dir
        .clone()
        .unwrap_or_else(|| default.clone());
    let fix = match &config.overlay.dir {
        Some(_) => {
            // The default place is only worth naming if it is a good one.
            let (_, verdict) = context.place(&default);
            let example = match verdict {
                Verdict::Elsewhere {
                    kind: FsKind::Local,
                    ..
                } => format!(", such as {}", default.display()),
                _ => String::new(),
            };
            format!(
                "set [overlay] dir in {} to a directory on this host's own disk{example}",
                config.source.display(),
            )
        }
        None => format!(
            "keep {} on this host's own disk (VROOT_LIB_DIR moves it), or set [overlay] dir in {} to a host-local directory",
            paths.lib_dir.join("hosts").display(),
            config.source.display()
        ),
    };
    layer(
        context,
        &format!("layer:{}", config.name),
        &dir,
        Some(&config.root),
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use vroot_runtime::mountinfo::parse;

    const TABLE: &str = "\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
23 22 0:40 / /run rw - tmpfs tmpfs rw
24 22 0:41 / /vz/private rw - nfs4 192.0.2.1:/export rw
25 22 0:41 /hosts /srv/hosts rw - nfs4 192.0.2.1:/export rw
26 22 0:50 / /mnt/other rw - nfs4 192.0.2.9:/other rw
27 22 0:51 / /mnt/fuse rw - fuse.vroot-testfs vroot-testfs rw
";

    /// A fake disk: symlinks and existing paths (with their ancestors);
    /// every look is recorded.
    struct Disk {
        links: BTreeMap<PathBuf, PathBuf>,
        present: Vec<PathBuf>,
        looked: Vec<PathBuf>,
    }

    impl Disk {
        fn new(links: &[(&str, &str)], present: &[&str]) -> Self {
            Disk {
                links: links
                    .iter()
                    .map(|(from, to)| (PathBuf::from(from), PathBuf::from(to)))
                    .collect(),
                present: present.iter().map(PathBuf::from).collect(),
                looked: Vec::new(),
            }
        }

        fn look(&mut self, path: &Path) -> Look {
            self.looked.push(path.to_path_buf());
            if let Some(target) = self.links.get(path) {
                Look::Link(target.clone())
            } else if self
                .present
                .iter()
                .chain(self.links.keys())
                .any(|p| p.starts_with(path))
            {
                Look::Present
            } else {
                Look::Missing
            }
        }
    }

    fn area() -> SharedArea {
        SharedArea {
            prefixes: vec![PathBuf::from("/vz/private")],
            device: Some("0:41".into()),
        }
    }

    fn untouchable() -> Vec<PathBuf> {
        let table = parse(TABLE);
        super::super::mounts::untouchable(&table, &area().mount_points(&table))
    }

    fn resolve_on(disk: &mut Disk, path: &str) -> Resolved {
        resolve(Path::new(path), &untouchable(), &mut |p| disk.look(p))
    }

    #[test]
    fn follows_symlinks_like_realpath() {
        let mut disk = Disk::new(
            &[
                ("/var/lib/vroot", "/data/vroot"),
                ("/data/vroot/hosts", "../layers"),
            ],
            &["/data/vroot", "/data/layers/web"],
        );
        let resolved = resolve_on(&mut disk, "/var/lib/vroot/hosts/web");
        assert_eq!(resolved.path, PathBuf::from("/data/layers/web"));
        assert!(!resolved.missing);
        // `..` after a symlink leaves the link's target, as in the kernel.
        let resolved = resolve_on(&mut disk, "/var/lib/vroot/./hosts/../x/y");
        assert_eq!(resolved.path, PathBuf::from("/data/x/y"));
        assert!(resolved.missing);
    }

    #[test]
    fn never_looks_at_the_shared_storage_or_other_remote_mounts() {
        let mut disk = Disk::new(
            &[
                ("/var/lib/vroot", "/vz/private/host1"),
                ("/etc/vroot", "/mnt/fuse/etc"),
            ],
            &["/vz/private/host1/hosts", "/mnt/fuse/etc"],
        );
        let resolved = resolve_on(&mut disk, "/var/lib/vroot/hosts/web");
        assert_eq!(resolved.path, PathBuf::from("/vz/private/host1/hosts/web"));
        let resolved = resolve_on(&mut disk, "/etc/vroot");
        assert_eq!(resolved.path, PathBuf::from("/mnt/fuse/etc"));
        for looked in &disk.looked {
            for point in untouchable() {
                assert!(!looked.starts_with(&point), "looked at {looked:?}");
            }
        }
    }

    #[test]
    fn a_symlink_loop_ends() {
        let mut disk = Disk::new(&[("/a", "/b"), ("/b", "/a")], &[]);
        let resolved = resolve_on(&mut disk, "/a/x");
        assert_eq!(resolved.path, PathBuf::from("/a/x"));
        assert!(disk.looked.len() <= MAX_LINKS + 2);
    }

    #[test]
    fn judges_paths_by_place_and_device() {
        let table = parse(TABLE);
        let judge = |path: &str| judge(Path::new(path), &area(), &table);
        assert_eq!(
            judge("/vz/private/web"),
            Verdict::BelowStorage {
                prefix: "/vz/private".into()
            }
        );
        assert_eq!(
            judge("/srv/hosts/web"),
            Verdict::OnStorage {
                mount_point: "/srv/hosts".into()
            }
        );
        assert!(matches!(
            judge("/mnt/other/x"),
            Verdict::Elsewhere {
                kind: FsKind::Remote,
                ..
            }
        ));
        assert!(matches!(
            judge("/mnt/fuse/x"),
            Verdict::Elsewhere {
                kind: FsKind::Fuse,
                ..
            }
        ));
        assert!(matches!(
            judge("/var/lib/vroot"),
            Verdict::Elsewhere {
                kind: FsKind::Local,
                ..
            }
        ));
        // Not mounted: the storage's place still counts.
        let unmounted = SharedArea {
            prefixes: vec![PathBuf::from("/vz/private")],
            device: None,
        };
        assert!(matches!(
            super::judge(Path::new("/vz/private/hosts"), &unmounted, &[]),
            Verdict::BelowStorage { .. }
        ));
    }

    fn check_layer(dir: &str, root: &str) -> Check {
        let table = parse(TABLE);
        let area = area();
        let untouchable = untouchable();
        let mut disk = Disk::new(&[("/var/lib/vroot/hosts", "/srv/hosts")], &["/var/lib"]);
        let mut look = |path: &Path| disk.look(path);
        let mut context = Context {
            table: &table,
            area: &area,
            untouchable: &untouchable,
            look: &mut look,
        };
        layer(
            &mut context,
            "layer:web",
            Path::new(dir),
            Some(Path::new(root)),
            "the fix".into(),
        )
    }

    #[test]
    fn layers_must_be_host_local() {
        let ok = check_layer("/var/lib/layers/web", "/vz/private/web");
        assert!(ok.ok, "{ok:?}");
        assert!(ok.detail.contains("ext4"), "{ok:?}");

        let shared = check_layer("/vz/private/web-layer", "/vz/private/web");
        assert!(!shared.ok);
        assert!(shared.detail.contains("shared storage"), "{shared:?}");
        assert_eq!(shared.fix.as_deref(), Some("the fix"));

        let via_link = check_layer("/var/lib/vroot/hosts/web", "/vz/private/web");
        assert!(!via_link.ok);
        assert!(via_link.detail.contains("→ /srv/hosts/web"), "{via_link:?}");

        let remote = check_layer("/mnt/other/web", "/vz/private/web");
        assert!(remote.detail.contains("network or cluster"), "{remote:?}");
        let fuse = check_layer("/mnt/fuse/web", "/vz/private/web");
        assert!(fuse.detail.contains("FUSE"), "{fuse:?}");

        let inside = check_layer("/srv/roots/web/layer", "/srv/roots/web/");
        assert!(
            inside.detail.contains("inside the shared root"),
            "{inside:?}"
        );
        let contains = check_layer("/srv/roots", "/srv/roots/web");
        assert!(
            contains.detail.contains("contains the shared root"),
            "{contains:?}"
        );
    }

    #[test]
    fn host_paths_may_be_anywhere_but_the_storage() {
        let table = parse(TABLE);
        let area = area();
        let untouchable = untouchable();
        let mut look = |_: &Path| Look::Present;
        let mut context = Context {
            table: &table,
            area: &area,
            untouchable: &untouchable,
            look: &mut look,
        };
        let fix = || "move it".to_string();
        assert!(host_path(&mut context, "state_dir", Path::new("/run/vroot"), fix()).ok);
        assert!(host_path(&mut context, "log_dir", Path::new("/mnt/other/log"), fix()).ok);
        let shared = host_path(
            &mut context,
            "binary",
            Path::new("/vz/private/bin/vroot"),
            fix(),
        );
        assert!(!shared.ok);
        assert!(shared.detail.contains("below /vz/private"), "{shared:?}");
    }
}
