//! A directory tree handled only through file descriptors.
//!
//! Both trees vroot reads and writes on the host are written by someone else
//! too: the shared root by every node, the per-host layer by the container
//! itself (its per-host directories are bound into it). A symlink planted in
//! either must never make host-side code read or write a host file. So every
//! path inside a [`Tree`] is resolved with `openat2(RESOLVE_IN_ROOT)`, where
//! an absolute or `..` symlink stays inside the tree, and the last component
//! is never followed: files are replaced by `renameat`, not written through.

use std::ffi::{CString, OsStr};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag};
use sha2::{Digest, Sha256};

/// How often to retry an `openat2` that raced a mount or rename on the host.
const OPENAT2_RETRIES: u32 = 1000;

/// Opens `path` below `root` with `openat2(RESOLVE_IN_ROOT)`: `/`, `..` and
/// absolute symlinks all resolve inside `root`; magic links are refused.
pub fn open_beneath(root: BorrowedFd<'_>, path: &Path, flags: libc::c_int) -> nix::Result<OwnedFd> {
    let relative = relative(path);
    let c_path = CString::new(relative.as_os_str().as_bytes()).map_err(|_| nix::Error::EINVAL)?;
    // SAFETY: open_how is plain data; all-zero is a valid starting value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // The kernel answers EAGAIN when a `..` on the way races any mount or
    // rename on the host, which it then cannot prove stayed inside the root;
    // openat2(2) says to retry.
    let mut attempts = 0;
    loop {
        // SAFETY: the path is NUL-terminated, `how` is a valid open_how of the
        // size passed, and the root fd stays open for the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c_path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: openat2 returned a new fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) });
        }
        match nix::Error::last() {
            nix::Error::EAGAIN if attempts < OPENAT2_RETRIES => attempts += 1,
            error => return Err(error),
        }
    }
}

/// `path` without its root: `/etc/x` → `etc/x`, `/` → `.`.
fn relative(path: &Path) -> PathBuf {
    let relative: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir))
        .collect();
    if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative
    }
}

/// The magic-link path through which the kernel reaches an opened fd.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What a path is, read without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// Devices, fifos, sockets (and overlayfs whiteouts).
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub kind: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    whiteout: bool,
}

impl Stat {
    fn from_raw(raw: &libc::stat) -> Stat {
        let kind = match raw.st_mode & libc::S_IFMT {
            libc::S_IFREG => Kind::File,
            libc::S_IFDIR => Kind::Dir,
            libc::S_IFLNK => Kind::Symlink,
            _ => Kind::Other,
        };
        Stat {
            kind,
            mode: raw.st_mode & 0o7777,
            uid: raw.st_uid,
            gid: raw.st_gid,
            size: raw.st_size as u64,
            whiteout: raw.st_mode & libc::S_IFMT == libc::S_IFCHR && raw.st_rdev == 0,
        }
    }

    /// An overlayfs whiteout: a character device 0:0.
    pub fn is_whiteout(&self) -> bool {
        self.whiteout
    }
}

/// A directory whose inside is reached only through its fd.
#[derive(Debug)]
pub struct Tree {
    fd: OwnedFd,
    path: PathBuf,
}

fn io(error: nix::Error) -> std::io::Error {
    std::io::Error::from_raw_os_error(error as i32)
}

/// Splits an in-tree path into its parent and last name; `None` for `/`.
fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    let name = path.file_name()?;
    Some((path.parent().unwrap_or(Path::new("/")), name))
}

impl Tree {
    /// Opens the directory `path` (on the host, followed as given: the
    /// administrator chose it).
    pub fn open(path: &Path) -> std::io::Result<Tree> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        Ok(Tree {
            // SAFETY: open returned a new fd that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
        })
    }

    /// The directory's host path, for messages and for the runtime's mounts.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The host path of `inner`, for messages only (never opened).
    pub fn display(&self, inner: &Path) -> PathBuf {
        self.path.join(relative(inner))
    }

    /// Opens `inner`, following symlinks only inside the tree.
    pub fn open_path(&self, inner: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
        open_beneath(self.fd(), inner, flags).map_err(io)
    }

    /// The parent directory of `inner`, opened for `*at` calls, and its name.
    fn parent<'p>(&self, inner: &'p Path) -> std::io::Result<(OwnedFd, &'p OsStr)> {
        let (parent, name) = split(inner).ok_or_else(|| io(nix::Error::EINVAL))?;
        let dir = self.open_path(parent, libc::O_DIRECTORY | libc::O_RDONLY)?;
        Ok((dir, name))
    }

    /// What `inner` is, without following its last component; `None` when
    /// it (or a directory on the way) does not exist.
    pub fn lstat(&self, inner: &Path) -> std::io::Result<Option<Stat>> {
        if split(inner).is_none() {
            return nix::sys::stat::fstat(self.fd.as_raw_fd())
                .map(|raw| Some(Stat::from_raw(&raw)))
                .map_err(io);
        }
        let (dir, name) = match self.parent(inner) {
            Ok(found) => found,
            Err(error) if matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None)
            }
            Err(error) => return Err(error),
        };
        match nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(raw) => Ok(Some(Stat::from_raw(&raw))),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(error) => Err(io(error)),
        }
    }

    /// Reads a regular file, at most `limit` bytes.
    pub fn read(&self, inner: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
        let fd = self.open_path(inner, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY)?;
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .take(limit)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// Names in the directory `inner`, sorted; `.` and `..` left out.
    pub fn list(&self, inner: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
        let fd = self.open_path(inner, libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW)?;
        let mut dir = nix::dir::Dir::from_fd(fd.as_raw_fd()).map_err(io)?;
        // Dir took over the raw fd and closes it.
        std::mem::forget(fd);
        let mut names: Vec<_> = dir
            .iter()
            .filter_map(Result::ok)
            .map(|entry| OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string())
            .filter(|name| name != "." && name != "..")
            .collect();
        names.sort();
        Ok(names)
    }

    /// Creates `inner` and its missing parents as directories with `mode`.
    /// An existing non-directory on the way is an error (ENOTDIR), never
    /// followed or replaced.
    pub fn mkdir_all(&self, inner: &Path, mode: u32) -> std::io::Result<()> {
        let mut current = PathBuf::from("/");
        for component in relative(inner).components() {
            let Component::Normal(name) = component else {
                continue;
            };
            let dir = self.open_path(&current, libc::O_DIRECTORY | libc::O_RDONLY)?;
            match nix::sys::stat::mkdirat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(mode),
            ) {
                Ok(()) => {}
                Err(nix::Error::EEXIST) => {
                    let stat = nix::sys::stat::fstatat(
                        Some(dir.as_raw_fd()),
                        name,
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(io)?;
                    if stat.st_mode & libc::S_IFMT != libc::S_IFDIR {
                        return Err(io(nix::Error::ENOTDIR));
                    }
                }
                Err(error) => return Err(io(error)),
            }
            current.push(name);
        }
        Ok(())
    }

    /// Replaces `inner` with a regular file holding `content` (write to a
    /// new name, then rename over): a symlink or file already there is
    /// replaced, never written through.
    pub fn write_atomic(&self, inner: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
        let (dir, name) = self.parent(inner)?;
        let temporary = format!(
            ".vroot-new.{}.{}",
            std::process::id(),
            name.to_string_lossy()
        );
        let temporary = OsStr::new(&temporary);
        let _ = nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            temporary,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        let fd = nix::fcntl::openat(
            Some(dir.as_raw_fd()),
            temporary,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(mode),
        )
        .map_err(io)?;
        // SAFETY: openat returned a new fd that nothing else owns.
        let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        let written = file
            .write_all(content)
            .and_then(|()| nix::sys::stat::fchmod(fd, Mode::from_bits_truncate(mode)).map_err(io));
        drop(file);
        let renamed = written.and_then(|()| {
            nix::fcntl::renameat(
                Some(dir.as_raw_fd()),
                temporary,
                Some(dir.as_raw_fd()),
                name,
            )
            .map_err(io)
        });
        if renamed.is_err() {
            let _ = nix::unistd::unlinkat(
                Some(dir.as_raw_fd()),
                temporary,
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        renamed
    }

    /// Sets owner and permission bits of `inner` (not through a symlink).
    pub fn set_owner_mode(
        &self,
        inner: &Path,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> std::io::Result<()> {
        let (dir, name) = self.parent(inner)?;
        nix::unistd::fchownat(
            Some(dir.as_raw_fd()),
            name,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(io)?;
        if self
            .lstat(inner)?
            .is_some_and(|stat| stat.kind != Kind::Symlink)
        {
            nix::sys::stat::fchmodat(
                Some(dir.as_raw_fd()),
                name,
                Mode::from_bits_truncate(mode),
                FchmodatFlags::FollowSymlink,
            )
            .map_err(io)?;
        }
        Ok(())
    }

    /// Makes `inner` an overlayfs whiteout (character device 0:0), which
    /// hides the lower layer's file of that name.
    pub fn whiteout(&self, inner: &Path) -> std::io::Result<()> {
        let (dir, name) = self.parent(inner)?;
        let _ = nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        );
        nix::sys::stat::mknodat(
            Some(dir.as_raw_fd()),
            name,
            SFlag::S_IFCHR,
            Mode::empty(),
            0,
        )
        .map_err(io)
    }

    /// Marks the directory `inner` opaque to overlayfs: in a root-wide
    /// overlay, nothing of the lower layer's directory shows through.
    pub fn set_opaque(&self, inner: &Path) -> std::io::Result<()> {
        let fd = self.open_path(inner, libc::O_DIRECTORY | libc::O_RDONLY | libc::O_NOFOLLOW)?;
        let name = c"trusted.overlay.opaque";
        // SAFETY: fsetxattr on a directory fd we own, with a NUL-terminated
        // name and a one-byte value that live across the call.
        let result =
            unsafe { libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        if result < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Reads a symlink's target.
    pub fn read_link(&self, inner: &Path) -> std::io::Result<std::ffi::OsString> {
        let (dir, name) = self.parent(inner)?;
        nix::fcntl::readlinkat(Some(dir.as_raw_fd()), name).map_err(io)
    }

    fn symlink(&self, inner: &Path, target: &OsStr) -> std::io::Result<()> {
        let (dir, name) = self.parent(inner)?;
        nix::unistd::symlinkat(target, Some(dir.as_raw_fd()), name).map_err(io)
    }

    /// Copies `inner` from `source` into this tree at the same path: files,
    /// directories (recursively) and symlinks, with their owners and modes.
    /// Devices, fifos and sockets are left out; so is anything already here.
    pub fn copy_from(&self, source: &Tree, inner: &Path) -> std::io::Result<()> {
        let Some(stat) = source.lstat(inner)? else {
            return Ok(());
        };
        if self.lstat(inner)?.is_some() {
            return Ok(());
        }
        match stat.kind {
            Kind::File => {
                let content = source.read(inner, u64::MAX)?;
                self.write_atomic(inner, &content, stat.mode)?;
            }
            Kind::Dir => {
                self.mkdir_all(inner, stat.mode)?;
                for name in source.list(inner)? {
                    self.copy_from(source, &inner.join(name))?;
                }
            }
            Kind::Symlink => self.symlink(inner, &source.read_link(inner)?)?,
            Kind::Other => return Ok(()),
        }
        self.set_owner_mode(inner, stat.uid, stat.gid, stat.mode)
    }

    /// Creates here every directory below `inner` in `source` that is
    /// missing, with its owner and mode; files are not copied.
    pub fn copy_dirs_from(&self, source: &Tree, inner: &Path) -> std::io::Result<()> {
        let Some(stat) = source.lstat(inner)? else {
            return Ok(());
        };
        if stat.kind != Kind::Dir {
            return Ok(());
        }
        if self.lstat(inner)?.is_none() {
            self.mkdir_all(inner, stat.mode)?;
            self.set_owner_mode(inner, stat.uid, stat.gid, stat.mode)?;
        }
        if self
            .lstat(inner)?
            .is_some_and(|here| here.kind != Kind::Dir)
        {
            return Ok(());
        }
        for name in source.list(inner)? {
            let child = inner.join(name);
            if source.lstat(&child)?.is_some_and(|s| s.kind == Kind::Dir) {
                self.copy_dirs_from(source, &child)?;
            }
        }
        Ok(())
    }

    /// Every path below `inner` (not `inner` itself), depth first, sorted.
    pub fn walk(&self, inner: &Path) -> std::io::Result<Vec<(PathBuf, Stat)>> {
        let mut found = Vec::new();
        self.walk_into(inner, &mut found)?;
        Ok(found)
    }

    fn walk_into(&self, inner: &Path, found: &mut Vec<(PathBuf, Stat)>) -> std::io::Result<()> {
        for name in self.list(inner)? {
            let child = inner.join(name);
            let Some(stat) = self.lstat(&child)? else {
                continue;
            };
            found.push((child.clone(), stat));
            if stat.kind == Kind::Dir {
                self.walk_into(&child, found)?;
            }
        }
        Ok(())
    }

    /// A digest of `inner`'s content: a file's bytes, a symlink's target, or
    /// a directory's whole tree (names, kinds, modes and contents). `None`
    /// when it does not exist.
    pub fn digest(&self, inner: &Path) -> std::io::Result<Option<String>> {
        let Some(stat) = self.lstat(inner)? else {
            return Ok(None);
        };
        let mut hasher = Sha256::new();
        self.hash_into(inner, &stat, &mut hasher)?;
        if stat.kind == Kind::Dir {
            for (path, child) in self.walk(inner)? {
                let below = path.strip_prefix(inner).unwrap_or(&path);
                hasher.update(below.as_os_str().as_bytes());
                hasher.update(b"\0");
                self.hash_into(&path, &child, &mut hasher)?;
            }
        }
        Ok(Some(
            hasher
                .finalize()
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect(),
        ))
    }

    fn hash_into(&self, inner: &Path, stat: &Stat, hasher: &mut Sha256) -> std::io::Result<()> {
        hasher.update(format!("{:?} {:o}\0", stat.kind, stat.mode).as_bytes());
        match stat.kind {
            Kind::File => {
                let fd =
                    self.open_path(inner, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NOCTTY)?;
                let mut file = std::fs::File::from(fd);
                let mut buffer = vec![0u8; 64 * 1024];
                loop {
                    let read = file.read(&mut buffer)?;
                    if read == 0 {
                        break;
                    }
                    hasher.update(&buffer[..read]);
                }
            }
            Kind::Symlink => hasher.update(self.read_link(inner)?.as_bytes()),
            Kind::Dir | Kind::Other => {}
        }
        hasher.update(b"\0");
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
