//! Filling a per-host layer from a [`Plan`]: render `gen` entries, generate
//! missing secrets, copy seeds once, mirror skel trees, create empty
//! directories and the overlay work directories. Runs on the host before
//! the container starts (and for `vroot overlay init`); writes only into
//! the layer, reads the shared root only through [`Tree`].

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{has_builtin_content, Entry, LayerMode, OnMissing};
use crate::layout::LayerPaths;
use crate::manifest::Mode;
use crate::plan::{EntryKind, Item, LayerMount, Placement, Plan};
use crate::record::{self, LayerRecord, RecordError, SeedRecord};
use crate::secret::{self, Generator};
use crate::template::{self, TemplateError, Variables};
use crate::tree::{Kind, Tree};

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("template {template} for {path}: {source}")]
    Template {
        path: String,
        template: PathBuf,
        source: TemplateError,
    },
    #[error("the template {template} for {path} does not exist; create it, or set on_missing = \"copy-default\" or \"create\"")]
    MissingTemplate { path: String, template: PathBuf },
    #[error("{path} has no per-host copy and vroot cannot make one ({why}); put this host's at {copy}, or set on_missing = \"create\"")]
    NotProvided {
        path: String,
        why: String,
        copy: PathBuf,
    },
    #[error("the seed {path} is not in the shared root; create it there, or set on_missing = \"create\" or \"copy-default\"")]
    MissingSeed { path: String },
    #[error("cannot generate the secret {path}: {source}")]
    Secret {
        path: String,
        source: secret::SecretError,
    },
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What preparing did to one entry, for `vroot overlay init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub path: String,
    pub what: String,
}

/// What the layer needs besides the plan: the template variables and the
/// comment of generated ssh keys.
pub struct Inputs<'a> {
    pub variables: &'a Variables,
    pub key_comment: &'a str,
}

struct Preparer<'a> {
    shared: &'a Tree,
    layer: Tree,
    paths: &'a LayerPaths,
    inputs: &'a Inputs<'a>,
    record: LayerRecord,
    record_changed: bool,
    actions: Vec<Action>,
    overlayfs: bool,
}

fn at(path: &Path) -> impl Fn(std::io::Error) -> PrepareError + '_ {
    move |source| PrepareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates the layer's directories (the layer itself private to root) and
/// fills it as `plan` says. Returns what it did.
pub fn prepare(
    plan: &Plan,
    shared: &Tree,
    paths: &LayerPaths,
    inputs: &Inputs<'_>,
) -> Result<Vec<Action>, PrepareError> {
    create_private_dir(&paths.dir)?;
    let root = paths.root();
    if !root.is_dir() {
        std::fs::create_dir(&root).map_err(at(&root))?;
        let stat = shared.lstat(Path::new("/")).map_err(at(shared.path()))?;
        let (uid, gid, mode) = stat.map_or((0, 0, 0o755), |s| (s.uid, s.gid, s.mode));
        let layer = Tree::open(&root).map_err(at(&root))?;
        layer
            .set_owner_mode(Path::new("/"), uid, gid, mode)
            .or_else(|_| {
                std::os::unix::fs::chown(&root, Some(uid), Some(gid))?;
                std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(mode))
            })
            .map_err(at(&root))?;
    }
    create_private_dir(&paths.work_dir())?;
    let mut preparer = Preparer {
        shared,
        layer: Tree::open(&root).map_err(at(&root))?,
        paths,
        inputs,
        record: LayerRecord::load(&paths.dir)?,
        record_changed: false,
        actions: Vec::new(),
        overlayfs: plan.mode == LayerMode::Overlayfs,
    };
    for item in plan.items.iter().filter(|item| item.placement.is_applied()) {
        preparer.item(item, plan)?;
    }
    for mount in &plan.mounts {
        if let LayerMount::ParentOverlay { target, work } = mount {
            preparer.parents(target)?;
            create_private_dir(&paths.work(work))?;
        }
    }
    if let Some(work) = &plan.root_work {
        create_private_dir(&paths.work(work))?;
    }
    if preparer.record_changed {
        preparer.record.save(&paths.dir)?;
    }
    Ok(preparer.actions)
}

fn create_private_dir(path: &Path) -> Result<(), PrepareError> {
    match std::fs::create_dir(path) {
        Ok(()) => {
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(at(path))
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path).map_err(at(path))?;
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .map_err(at(path))
        }
        Err(source) => Err(PrepareError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// `/a`, `/a/b`, `/a/b/c` for `/a/b/c`: each directory on the way, in order.
fn ancestors(dir: &str) -> impl Iterator<Item = PathBuf> + '_ {
    let mut current = PathBuf::from("/");
    dir.split('/')
        .filter(|c| !c.is_empty())
        .map(move |component| {
            current.push(component);
            current.clone()
        })
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

impl Preparer<'_> {
    fn io(&self, path: &str) -> impl Fn(std::io::Error) -> PrepareError {
        let host = self.paths.copy_of(path);
        move |source| PrepareError::Io {
            path: host.clone(),
            source,
        }
    }

    fn done(&mut self, path: &str, what: impl Into<String>) {
        self.actions.push(Action {
            path: path.to_string(),
            what: what.into(),
        });
    }

    fn layer_has(&self, path: &str) -> Result<Option<Kind>, PrepareError> {
        self.layer
            .lstat(Path::new(path))
            .map(|stat| stat.map(|s| s.kind))
            .map_err(self.io(path))
    }

    /// Creates the layer's directories down to `dir`, each with the owner
    /// and mode of the shared root's directory of that name: the top of a
    /// parent overlay shows the upper's attributes.
    fn parents(&self, dir: &str) -> Result<(), PrepareError> {
        for current in ancestors(dir) {
            if self.layer.lstat(&current).map_err(self.io(dir))?.is_some() {
                continue;
            }
            let (uid, gid, mode) = match self.shared.lstat(&current) {
                Ok(Some(stat)) if stat.kind == Kind::Dir => (stat.uid, stat.gid, stat.mode),
                _ => (0, 0, 0o755),
            };
            self.layer.mkdir_all(&current, mode).map_err(self.io(dir))?;
            self.layer
                .set_owner_mode(&current, uid, gid, mode)
                .map_err(self.io(dir))?;
        }
        Ok(())
    }

    /// A directory entry's own directory, with the shared one's attributes.
    fn directory(&mut self, path: &str) -> Result<bool, PrepareError> {
        if self.layer_has(path)? == Some(Kind::Dir) {
            return Ok(false);
        }
        self.parents(path)?;
        if self.overlayfs {
            self.layer
                .set_opaque(Path::new(path))
                .map_err(self.io(path))?;
        }
        Ok(true)
    }

    /// The first directory on the way to `dir` that the layer holds as
    /// something else: the container removed (whiteout) or replaced it.
    fn blocked_at(&self, dir: &str) -> Result<Option<PathBuf>, PrepareError> {
        for current in ancestors(dir) {
            match self.layer.lstat(&current).map_err(self.io(dir))? {
                Some(stat) if stat.kind != Kind::Dir => return Ok(Some(current)),
                None => return Ok(None),
                Some(_) => {}
            }
        }
        Ok(None)
    }

    fn item(&mut self, item: &Item, plan: &Plan) -> Result<(), PrepareError> {
        let entry = &item.entry;
        let parent = parent_of(entry.path.trim_end_matches('*'));
        if let Some(blocked) = self.blocked_at(parent)? {
            self.done(
                &entry.path,
                format!(
                    "skipped: {} was removed or replaced inside the container",
                    blocked.display()
                ),
            );
            return Ok(());
        }
        self.parents(parent)?;
        match entry.mode {
            Mode::Gen => self.gen(entry, item.kind),
            Mode::Secret => self.secret(entry, &item.placement),
            Mode::Seed => self.seed(entry, item.kind),
            Mode::Skel => {
                let created = self.directory(&entry.path)?;
                self.layer
                    .copy_dirs_from(self.shared, Path::new(&entry.path))
                    .map_err(self.io(&entry.path))?;
                if created {
                    self.done(&entry.path, "directory tree copied without files");
                }
                Ok(())
            }
            Mode::Empty => {
                if self.directory(&entry.path)? {
                    self.done(&entry.path, "created empty");
                }
                Ok(())
            }
            Mode::Tmp => {
                // A tmpfs inside a per-host directory is mounted on the
                // layer's copy, which must exist.
                let inside_layer = plan.items.iter().any(|other| {
                    other.kind == EntryKind::Dir
                        && other.entry.mode != Mode::Tmp
                        && other.placement.is_applied()
                        && other.entry.path != entry.path
                        && other.entry.covers(&entry.path)
                });
                let missing_in_shared = self
                    .shared
                    .lstat(Path::new(&entry.path))
                    .map_err(self.io(&entry.path))?
                    .is_none();
                if inside_layer || missing_in_shared {
                    self.parents(&entry.path)?;
                }
                Ok(())
            }
            Mode::Shared => Ok(()),
        }
    }

    fn gen(&mut self, entry: &Entry, kind: EntryKind) -> Result<(), PrepareError> {
        let path = entry.path.as_str();
        if has_builtin_content(path) && entry.template.is_none() {
            let (key, mode) = if path == "/etc/machine-id" {
                ("machine_id", 0o444)
            } else {
                ("hostname", 0o644)
            };
            let value = self.inputs.variables.get(key).cloned().unwrap_or_default();
            return self.write_if_changed(path, format!("{value}\n").as_bytes(), mode);
        }
        match &entry.template {
            Some(template) if template.exists() => {
                if kind == EntryKind::Dir {
                    self.render_dir(entry, template, path)
                } else {
                    self.render_file(entry, template, path)
                }
            }
            Some(template) if entry.on_missing == OnMissing::Fail => {
                Err(PrepareError::MissingTemplate {
                    path: path.to_string(),
                    template: template.clone(),
                })
            }
            _ => self.fallback(entry, kind),
        }
    }

    /// A `gen` entry without a template (or with a missing one): seeded from
    /// the shared root, or created empty, as `on_missing` says.
    fn fallback(&mut self, entry: &Entry, kind: EntryKind) -> Result<(), PrepareError> {
        let path = entry.path.as_str();
        if self.layer_has(path)?.is_some() {
            return Ok(());
        }
        match entry.on_missing {
            OnMissing::CopyDefault => {
                if self
                    .shared
                    .lstat(Path::new(path))
                    .map_err(self.io(path))?
                    .is_some()
                {
                    self.layer
                        .copy_from(self.shared, Path::new(path))
                        .map_err(self.io(path))?;
                    self.done(path, "copied from the shared root");
                }
                Ok(())
            }
            OnMissing::Create => self.create_empty(path, kind),
            OnMissing::Fail => Err(PrepareError::MissingTemplate {
                path: path.to_string(),
                template: entry.template.clone().unwrap_or_default(),
            }),
        }
    }

    fn create_empty(&mut self, path: &str, kind: EntryKind) -> Result<(), PrepareError> {
        match kind {
            EntryKind::Dir => {
                self.directory(path)?;
            }
            EntryKind::File => self
                .layer
                .write_atomic(Path::new(path), b"", 0o644)
                .map_err(self.io(path))?,
        }
        self.done(path, "created empty");
        Ok(())
    }

    fn write_if_changed(
        &mut self,
        path: &str,
        content: &[u8],
        mode: u32,
    ) -> Result<(), PrepareError> {
        let current = match self.layer.lstat(Path::new(path)).map_err(self.io(path))? {
            Some(stat) if stat.kind == Kind::File && stat.mode == mode => self
                .layer
                .read(Path::new(path), content.len() as u64 + 1)
                .ok(),
            _ => None,
        };
        if current.as_deref() != Some(content) {
            self.layer
                .write_atomic(Path::new(path), content, mode)
                .map_err(self.io(path))?;
            self.done(path, "rendered");
        }
        Ok(())
    }

    fn render(&self, entry: &Entry, template: &Path) -> Result<(Vec<u8>, u32), PrepareError> {
        let text = std::fs::read(template).map_err(at(template))?;
        let mode = std::fs::metadata(template)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
            .unwrap_or(0o644);
        let rendered = template::render_bytes(&text, self.inputs.variables).map_err(|source| {
            PrepareError::Template {
                path: entry.path.clone(),
                template: template.to_path_buf(),
                source,
            }
        })?;
        Ok((rendered, mode))
    }

    fn render_file(
        &mut self,
        entry: &Entry,
        template: &Path,
        path: &str,
    ) -> Result<(), PrepareError> {
        let (content, mode) = self.render(entry, template)?;
        self.write_if_changed(path, &content, mode)
    }

    /// A directory template: every file in it rendered to the same name;
    /// names the template no longer has are removed, since the directory is
    /// the template's output and nothing else.
    fn render_dir(
        &mut self,
        entry: &Entry,
        template: &Path,
        path: &str,
    ) -> Result<(), PrepareError> {
        self.directory(path)?;
        let mut names = std::fs::read_dir(template)
            .map_err(at(template))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(at(template))?;
        names.sort_by_key(|e| e.file_name());
        let mut wanted = Vec::new();
        for name in names {
            let child = format!("{path}/{}", name.file_name().to_string_lossy());
            wanted.push(name.file_name());
            if name.file_type().map_err(at(template))?.is_dir() {
                self.render_dir(entry, &name.path(), &child)?;
            } else {
                self.render_file(entry, &name.path(), &child)?;
            }
        }
        for present in self.layer.list(Path::new(path)).map_err(self.io(path))? {
            if !wanted.contains(&present) {
                let child = Path::new(path).join(&present);
                let host = self.paths.copy_of(&child.to_string_lossy());
                let removed = if host.is_dir() && !host.is_symlink() {
                    std::fs::remove_dir_all(&host)
                } else {
                    std::fs::remove_file(&host)
                };
                removed.map_err(at(&host))?;
                self.done(&child.to_string_lossy(), "removed: not in the template");
            }
        }
        Ok(())
    }

    /// Names in `dir` of `tree` that the pattern `entry` (ending in `*`) matches.
    fn matches(tree: &Tree, entry: &str) -> Vec<String> {
        let dir = parent_of(entry);
        let prefix = &entry[dir.len()..]
            .trim_start_matches('/')
            .trim_end_matches('*');
        tree.list(Path::new(dir))
            .unwrap_or_default()
            .into_iter()
            .filter_map(|name| name.into_string().ok())
            .filter(|name| name.starts_with(prefix) && !name.starts_with(".vroot-new."))
            .map(|name| format!("{}/{name}", dir.trim_end_matches('/')))
            .collect()
    }

    fn secret(&mut self, entry: &Entry, placement: &Placement) -> Result<(), PrepareError> {
        let path = entry.path.as_str();
        let generator = secret::generator_for(path);
        let present: Vec<String> = if entry.is_glob() {
            Self::matches(&self.layer, path)
                .into_iter()
                .filter(|p| self.layer_has(p).ok().flatten() == Some(Kind::File))
                .collect()
        } else {
            self.layer_has(path)?
                .map(|_| vec![path.to_string()])
                .unwrap_or_default()
        };
        let in_shared: Vec<String> = if entry.is_glob() {
            Self::matches(self.shared, path)
        } else if self
            .shared
            .lstat(Path::new(path))
            .map_err(self.io(path))?
            .is_some()
        {
            vec![path.to_string()]
        } else {
            Vec::new()
        };
        if present.is_empty() {
            if generator == Generator::Provided {
                if in_shared.is_empty() {
                    return Ok(());
                }
                match entry.on_missing {
                    OnMissing::Create if !entry.is_glob() => {
                        self.layer
                            .write_atomic(Path::new(path), b"", 0o600)
                            .map_err(self.io(path))?;
                        self.done(path, "created empty (the shared copy is hidden)");
                    }
                    OnMissing::Create => {}
                    _ => {
                        return Err(PrepareError::NotProvided {
                            path: path.to_string(),
                            why: entry.why.clone(),
                            copy: self.paths.copy_of(path.trim_end_matches('*')),
                        })
                    }
                }
            } else {
                let generated = if generator == Generator::SystemdCredentialSecret {
                    let machine_id = self
                        .inputs
                        .variables
                        .get("machine_id")
                        .cloned()
                        .unwrap_or_default();
                    secret::generate_credential_secret(path, &machine_id).map(|file| vec![file])
                } else {
                    secret::generate(generator, path, self.inputs.key_comment)
                };
                let files = generated.map_err(|source| PrepareError::Secret {
                    path: path.to_string(),
                    source,
                })?;
                for file in files {
                    self.layer
                        .write_atomic(Path::new(&file.path), &file.content, file.mode)
                        .map_err(self.io(&file.path))?;
                    self.record.secrets.insert(file.path.clone(), record::now());
                    self.record_changed = true;
                    self.done(&file.path, "generated");
                }
            }
        }
        // A shared copy this host does not replace must not show through.
        let hides = matches!(
            placement,
            Placement::ParentOverlay { .. } | Placement::Upper
        );
        if hides && entry.is_glob() {
            for leftover in in_shared {
                if self.layer_has(&leftover)?.is_none() {
                    self.layer
                        .whiteout(Path::new(&leftover))
                        .map_err(self.io(&leftover))?;
                    self.done(
                        &leftover,
                        "hidden: another host's secret in the shared root",
                    );
                }
            }
        }
        Ok(())
    }

    fn seed(&mut self, entry: &Entry, kind: EntryKind) -> Result<(), PrepareError> {
        let path = entry.path.as_str();
        let wanted: Vec<String> = if entry.is_glob() {
            Self::matches(self.shared, path)
        } else {
            vec![path.to_string()]
        };
        for one in wanted {
            if self.layer_has(&one)?.is_some() {
                continue;
            }
            let digest = self.shared.digest(Path::new(&one)).map_err(self.io(&one))?;
            match digest {
                Some(digest) => {
                    self.layer
                        .copy_from(self.shared, Path::new(&one))
                        .map_err(self.io(&one))?;
                    self.record.seeds.insert(
                        one.clone(),
                        SeedRecord {
                            digest,
                            copied_at: record::now(),
                        },
                    );
                    self.record_changed = true;
                    self.done(&one, "seeded from the shared root");
                }
                None => match entry.on_missing {
                    OnMissing::CopyDefault => {}
                    OnMissing::Create => self.create_empty(&one, kind)?,
                    OnMissing::Fail => {
                        return Err(PrepareError::MissingSeed {
                            path: one.to_string(),
                        })
                    }
                },
            }
        }
        Ok(())
    }
}
