//! The passthrough: FUSE operations performed on the backing directory.
//!
//! Each inode the kernel knows is held as an `O_PATH | O_NOFOLLOW`
//! descriptor (see [`crate::inodes`]), and every operation is an `*at`
//! syscall relative to such a descriptor with a single name component, so
//! a symlink in the served tree is never followed on the daemon's side: it
//! is reported as a symlink and the kernel resolves it. Renames, hard links
//! and unlinked-but-open files need no path bookkeeping this way. Files are
//! (re)opened for I/O through `/proc/self/fd/N`, which names exactly the
//! inode held.
//!
//! Errors are errnos: what the kernel passes on to the caller.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo, TimeOrNow};
use nix::dir::{Dir, Type};
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag};
use nix::sys::statvfs::Statvfs;
use nix::unistd::{Gid, Uid, UnlinkatFlags};

use crate::inodes::{InodeTable, Key, ROOT};

type Result<T> = std::result::Result<T, Errno>;

fn sys(err: nix::errno::Errno) -> Errno {
    Errno::from_i32(err as i32)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The process on whose behalf a request is made.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

/// The changes of a `setattr`.
#[derive(Debug, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<TimeOrNow>,
    pub mtime: Option<TimeOrNow>,
    /// The open file the change is made through, if any.
    pub fh: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: u64,
    /// The offset of the entry after this one.
    pub offset: u64,
    pub kind: FileType,
    pub name: OsString,
}

/// The answer to `getxattr`/`listxattr`: the size needed when asked for
/// it (size 0), else the data.
#[derive(Debug, PartialEq, Eq)]
pub enum Xattr {
    Size(u32),
    Data(Vec<u8>),
}

/// An open directory: the snapshot `readdir` serves, taken anew when read
/// from offset 0.
struct OpenDir {
    dir: Dir,
    entries: Vec<DirEntry>,
}

/// The most entries one `readdir` answer is given (the kernel's buffer
/// takes fewer; it asks again for the rest).
const READDIR_BATCH: usize = 256;

pub struct Passthrough {
    inodes: Mutex<InodeTable<OwnedFd>>,
    files: Mutex<HashMap<u64, Arc<File>>>,
    dirs: Mutex<HashMap<u64, OpenDir>>,
    next_fh: AtomicU64,
}

impl Passthrough {
    pub fn new(source: &Path) -> std::io::Result<Passthrough> {
        let io_error = |errno: Errno| std::io::Error::from_raw_os_error(errno.into());
        let root = open_at(
            libc::AT_FDCWD,
            source.as_os_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            Mode::empty(),
        )
        .map_err(io_error)?;
        let st = stat_fd(root.as_raw_fd()).map_err(io_error)?;
        Ok(Passthrough {
            inodes: Mutex::new(InodeTable::new(key(&st), root)),
            files: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
        })
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<FileAttr> {
        let mut inodes = lock(&self.inodes);
        let dir = node(&inodes, parent)?;
        entry(&mut inodes, dir, name)
    }

    pub fn forget(&self, ino: u64, count: u64) {
        lock(&self.inodes).forget(ino, count);
    }

    pub fn getattr(&self, ino: u64) -> Result<FileAttr> {
        let inodes = lock(&self.inodes);
        let st = stat_fd(node(&inodes, ino)?)?;
        Ok(attr(ino, &st))
    }

    pub fn setattr(&self, ino: u64, change: SetAttr) -> Result<FileAttr> {
        let inodes = lock(&self.inodes);
        let fd = node(&inodes, ino)?;
        let file = change.fh.and_then(|fh| lock(&self.files).get(&fh).cloned());
        if let Some(mode) = change.mode {
            let mode = Mode::from_bits_truncate(mode & 0o7777);
            match &file {
                Some(file) => nix::sys::stat::fchmod(file.as_raw_fd(), mode).map_err(sys)?,
                None if is_symlink(&stat_fd(fd)?) => return Err(Errno::EOPNOTSUPP),
                None => nix::sys::stat::fchmodat(
                    None,
                    proc_path(fd).as_str(),
                    mode,
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(sys)?,
            }
        }
        if change.uid.is_some() || change.gid.is_some() {
            nix::unistd::fchownat(
                Some(fd),
                "",
                change.uid.map(Uid::from_raw),
                change.gid.map(Gid::from_raw),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(sys)?;
        }
        if let Some(size) = change.size {
            let size = i64::try_from(size).map_err(|_| Errno::EFBIG)?;
            match &file {
                Some(file) => nix::unistd::ftruncate(file.as_fd(), size).map_err(sys)?,
                None => nix::unistd::truncate(proc_path(fd).as_str(), size).map_err(sys)?,
            }
        }
        if change.atime.is_some() || change.mtime.is_some() {
            let times = [timespec(change.atime), timespec(change.mtime)];
            let empty = c"";
            // SAFETY: `fd` is a descriptor the table holds open, `empty` is
            // a NUL-terminated string, and `times` points to two timespecs.
            let rc =
                unsafe { libc::utimensat(fd, empty.as_ptr(), times.as_ptr(), libc::AT_EMPTY_PATH) };
            nix::errno::Errno::result(rc).map_err(sys)?;
        }
        Ok(attr(ino, &stat_fd(fd)?))
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        let inodes = lock(&self.inodes);
        let target = nix::fcntl::readlinkat(Some(node(&inodes, ino)?), "").map_err(sys)?;
        Ok(target.into_encoded_bytes())
    }

    pub fn mknod(
        &self,
        caller: Caller,
        parent: u64,
        name: &OsStr,
        mode: u32,
        rdev: u32,
    ) -> Result<FileAttr> {
        let mut inodes = lock(&self.inodes);
        let dir = node(&inodes, parent)?;
        nix::sys::stat::mknodat(
            Some(dir),
            name,
            SFlag::from_bits_truncate(mode & libc::S_IFMT),
            Mode::from_bits_truncate(mode & 0o7777),
            rdev_from_fuse(rdev),
        )
        .map_err(sys)?;
        give_to(caller, dir, name, mode)?;
        entry(&mut inodes, dir, name)
    }

    pub fn mkdir(&self, caller: Caller, parent: u64, name: &OsStr, mode: u32) -> Result<FileAttr> {
        let mut inodes = lock(&self.inodes);
        let dir = node(&inodes, parent)?;
        nix::sys::stat::mkdirat(Some(dir), name, Mode::from_bits_truncate(mode & 0o7777))
            .map_err(sys)?;
        give_to(caller, dir, name, libc::S_IFDIR)?;
        entry(&mut inodes, dir, name)
    }

    pub fn symlink(
        &self,
        caller: Caller,
        parent: u64,
        name: &OsStr,
        target: &Path,
    ) -> Result<FileAttr> {
        let mut inodes = lock(&self.inodes);
        let dir = node(&inodes, parent)?;
        nix::unistd::symlinkat(target, Some(dir), name).map_err(sys)?;
        give_to(caller, dir, name, libc::S_IFLNK)?;
        entry(&mut inodes, dir, name)
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        self.remove(parent, name, UnlinkatFlags::NoRemoveDir)
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        self.remove(parent, name, UnlinkatFlags::RemoveDir)
    }

    fn remove(&self, parent: u64, name: &OsStr, flags: UnlinkatFlags) -> Result<()> {
        let inodes = lock(&self.inodes);
        nix::unistd::unlinkat(Some(node(&inodes, parent)?), name, flags).map_err(sys)
    }

    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: u32,
    ) -> Result<()> {
        let inodes = lock(&self.inodes);
        let flags = RenameFlags::from_bits(flags).ok_or(Errno::EINVAL)?;
        let (from, to) = (node(&inodes, parent)?, node(&inodes, new_parent)?);
        nix::fcntl::renameat2(Some(from), name, Some(to), new_name, flags).map_err(sys)
    }

    pub fn link(&self, ino: u64, new_parent: u64, new_name: &OsStr) -> Result<FileAttr> {
        let mut inodes = lock(&self.inodes);
        let (fd, dir) = (node(&inodes, ino)?, node(&inodes, new_parent)?);
        // AT_EMPTY_PATH links the very inode held (needs CAP_DAC_READ_SEARCH,
        // which the daemon has as root).
        let empty = c"";
        let new_name = cstring(new_name)?;
        // SAFETY: both descriptors are held open by the table and both names
        // are NUL-terminated strings.
        let rc = unsafe {
            libc::linkat(
                fd,
                empty.as_ptr(),
                dir,
                new_name.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        nix::errno::Errno::result(rc).map_err(sys)?;
        entry(&mut inodes, dir, OsStr::from_bytes(new_name.as_bytes()))
    }

    pub fn open(&self, ino: u64, flags: i32) -> Result<u64> {
        let file = {
            let inodes = lock(&self.inodes);
            File::from(open_at(
                libc::AT_FDCWD,
                OsStr::new(&proc_path(node(&inodes, ino)?)),
                open_flags(flags),
                Mode::empty(),
            )?)
        };
        Ok(self.add_file(file))
    }

    pub fn create(
        &self,
        caller: Caller,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64)> {
        let mut inodes = lock(&self.inodes);
        let dir = node(&inodes, parent)?;
        let file = File::from(open_at(
            dir,
            name,
            open_flags(flags) | OFlag::O_CREAT | OFlag::O_NOFOLLOW,
            Mode::from_bits_truncate(mode & 0o7777),
        )?);
        give_to(caller, dir, name, libc::S_IFREG | (mode & 0o7777))?;
        let attr = entry(&mut inodes, dir, name)?;
        Ok((attr, self.add_file(file)))
    }

    fn add_file(&self, file: File) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.files).insert(fh, Arc::new(file));
        fh
    }

    fn file(&self, fh: u64) -> Result<Arc<File>> {
        lock(&self.files).get(&fh).cloned().ok_or(Errno::EBADF)
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let file = self.file(fh)?;
        let mut buf = vec![0; size as usize];
        let mut filled = 0;
        // A short answer means end of file to the kernel: fill what we can.
        while filled < buf.len() {
            match file.read_at(&mut buf[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err.into()),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        self.file(fh)?.write_all_at(data, offset)?;
        u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
    }

    pub fn release(&self, fh: u64) {
        lock(&self.files).remove(&fh);
    }

    pub fn fsync(&self, fh: u64, datasync: bool) -> Result<()> {
        let file = self.file(fh)?;
        if datasync {
            file.sync_data()?;
        } else {
            file.sync_all()?;
        }
        Ok(())
    }

    pub fn fallocate(&self, fh: u64, offset: u64, length: u64, mode: i32) -> Result<()> {
        let file = self.file(fh)?;
        let offset = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        let length = i64::try_from(length).map_err(|_| Errno::EINVAL)?;
        let mode = nix::fcntl::FallocateFlags::from_bits_retain(mode);
        nix::fcntl::fallocate(file.as_raw_fd(), mode, offset, length).map_err(sys)
    }

    pub fn opendir(&self, ino: u64) -> Result<u64> {
        let inodes = lock(&self.inodes);
        let dir = Dir::openat(
            Some(node(&inodes, ino)?),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(sys)?;
        drop(inodes);
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        let open = OpenDir {
            dir,
            entries: Vec::new(),
        };
        lock(&self.dirs).insert(fh, open);
        Ok(fh)
    }

    pub fn readdir(&self, fh: u64, offset: u64) -> Result<Vec<DirEntry>> {
        let mut dirs = lock(&self.dirs);
        let open = dirs.get_mut(&fh).ok_or(Errno::EBADF)?;
        if offset == 0 {
            open.entries = self.list(&mut open.dir)?;
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        Ok(open
            .entries
            .iter()
            .skip(start)
            .take(READDIR_BATCH)
            .cloned()
            .collect())
    }

    fn list(&self, dir: &mut Dir) -> Result<Vec<DirEntry>> {
        let dirfd = dir.as_raw_fd();
        let dev = stat_fd(dirfd)?.st_dev;
        let mut inodes = lock(&self.inodes);
        let mut entries = Vec::new();
        for (index, found) in dir.iter().enumerate() {
            let found = found.map_err(sys)?;
            let name = OsStr::from_bytes(found.file_name().to_bytes()).to_owned();
            let kind = match found.file_type() {
                Some(kind) => dir_kind(kind),
                None => {
                    let st = nix::sys::stat::fstatat(
                        Some(dirfd),
                        name.as_os_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(sys)?;
                    file_type(st.st_mode)
                }
            };
            entries.push(DirEntry {
                ino: inodes.number(Key {
                    dev,
                    ino: found.ino(),
                }),
                offset: index as u64 + 1,
                kind,
                name,
            });
        }
        Ok(entries)
    }

    pub fn releasedir(&self, fh: u64) {
        lock(&self.dirs).remove(&fh);
    }

    pub fn statfs(&self) -> Result<Statvfs> {
        let inodes = lock(&self.inodes);
        let root = inodes.handle(ROOT).ok_or(Errno::ESTALE)?;
        nix::sys::statvfs::fstatvfs(root).map_err(sys)
    }

    /// The path xattr calls go through; symlinks have none (their xattrs
    /// would need the name in the parent, which an inode does not know).
    fn xattr_path(&self, ino: u64) -> Result<Option<CString>> {
        let inodes = lock(&self.inodes);
        let fd = node(&inodes, ino)?;
        if is_symlink(&stat_fd(fd)?) {
            return Ok(None);
        }
        Ok(Some(cstring(OsStr::new(&proc_path(fd)))?))
    }

    pub fn getxattr(&self, ino: u64, name: &OsStr, size: u32) -> Result<Xattr> {
        let path = self.xattr_path(ino)?.ok_or(Errno::NO_XATTR)?;
        let name = cstring(name)?;
        let mut buf = vec![0u8; size as usize];
        // SAFETY: path and name are NUL-terminated; `buf` is valid for
        // `buf.len()` bytes (with length 0 the call only returns the size).
        let len = unsafe {
            libc::getxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        xattr_answer(len, size, buf)
    }

    pub fn listxattr(&self, ino: u64, size: u32) -> Result<Xattr> {
        let Some(path) = self.xattr_path(ino)? else {
            return Ok(if size == 0 {
                Xattr::Size(0)
            } else {
                Xattr::Data(Vec::new())
            });
        };
        let mut buf = vec![0u8; size as usize];
        // SAFETY: path is NUL-terminated; `buf` is valid for `buf.len()`
        // bytes (with length 0 the call only returns the size).
        let len = unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        xattr_answer(len, size, buf)
    }

    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        let path = self.xattr_path(ino)?.ok_or(Errno::EPERM)?;
        let name = cstring(name)?;
        // SAFETY: path and name are NUL-terminated; `value` is valid for
        // `value.len()` bytes.
        let rc = unsafe {
            libc::setxattr(
                path.as_ptr(),
                name.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                flags,
            )
        };
        nix::errno::Errno::result(rc).map(drop).map_err(sys)
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> Result<()> {
        let path = self.xattr_path(ino)?.ok_or(Errno::NO_XATTR)?;
        let name = cstring(name)?;
        // SAFETY: path and name are NUL-terminated.
        let rc = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
        nix::errno::Errno::result(rc).map(drop).map_err(sys)
    }
}

/// The descriptor of an inode the kernel knows.
fn node(inodes: &InodeTable<OwnedFd>, ino: u64) -> Result<RawFd> {
    inodes
        .handle(ino)
        .map(AsRawFd::as_raw_fd)
        .ok_or(Errno::ESTALE)
}

/// Looks `name` up in `dir` for the kernel: one more lookup of its inode.
fn entry(inodes: &mut InodeTable<OwnedFd>, dir: RawFd, name: &OsStr) -> Result<FileAttr> {
    let fd = open_at(dir, name, OFlag::O_PATH | OFlag::O_NOFOLLOW, Mode::empty())?;
    let st = stat_fd(fd.as_raw_fd())?;
    let ino = inodes.lookup(key(&st), fd);
    Ok(attr(ino, &st))
}

/// Gives a file just created in `dir` to the caller. In a set-group-ID
/// directory the group stays the directory's. Changing the owner clears a
/// regular file's set-user/group-ID bits, so those are put back.
fn give_to(caller: Caller, dir: RawFd, name: &OsStr, mode: u32) -> Result<()> {
    let inherit_group = stat_fd(dir)?.st_mode & libc::S_ISGID != 0;
    nix::unistd::fchownat(
        Some(dir),
        name,
        Some(Uid::from_raw(caller.uid)),
        (!inherit_group).then_some(Gid::from_raw(caller.gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(sys)?;
    if mode & libc::S_IFMT == libc::S_IFREG && mode & 0o6000 != 0 {
        nix::sys::stat::fchmodat(
            Some(dir),
            name,
            Mode::from_bits_truncate(mode & 0o7777),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(sys)?;
    }
    Ok(())
}

fn open_at(dir: RawFd, name: &OsStr, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let fd = nix::fcntl::openat(Some(dir), name, flags | OFlag::O_CLOEXEC, mode).map_err(sys)?;
    // SAFETY: `openat` just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The flags a file is reopened with for I/O: the caller's, less those
/// that only mean something when resolving or creating a name.
fn open_flags(flags: i32) -> OFlag {
    OFlag::from_bits_truncate(flags)
        - (OFlag::O_NOFOLLOW | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY)
}

fn proc_path(fd: RawFd) -> String {
    format!("/proc/self/fd/{fd}")
}

fn cstring(name: &OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)
}

fn stat_fd(fd: RawFd) -> Result<FileStat> {
    nix::sys::stat::fstatat(
        Some(fd),
        "",
        AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(sys)
}

fn is_symlink(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

fn key(st: &FileStat) -> Key {
    Key {
        dev: st.st_dev,
        ino: st.st_ino,
    }
}

fn xattr_answer(len: isize, size: u32, mut buf: Vec<u8>) -> Result<Xattr> {
    let len = usize::try_from(len).map_err(|_| sys(nix::errno::Errno::last()))?;
    if size == 0 {
        return u32::try_from(len)
            .map(Xattr::Size)
            .map_err(|_| Errno::E2BIG);
    }
    buf.truncate(len);
    Ok(Xattr::Data(buf))
}

fn timespec(time: Option<TimeOrNow>) -> libc::timespec {
    let (tv_sec, tv_nsec) = match time {
        None => (0, libc::UTIME_OMIT),
        Some(TimeOrNow::Now) => (0, libc::UTIME_NOW),
        Some(TimeOrNow::SpecificTime(time)) => match time.duration_since(UNIX_EPOCH) {
            Ok(after) => (after.as_secs() as i64, i64::from(after.subsec_nanos())),
            Err(before) => {
                let before = before.duration();
                let (secs, nanos) = (before.as_secs() as i64, i64::from(before.subsec_nanos()));
                if nanos == 0 {
                    (-secs, 0)
                } else {
                    (-secs - 1, 1_000_000_000 - nanos)
                }
            }
        },
    };
    libc::timespec { tv_sec, tv_nsec }
}

fn system_time(secs: i64, nanos: i64) -> SystemTime {
    let nanos = Duration::from_nanos(nanos.clamp(0, 999_999_999) as u64);
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + nanos
    }
}

fn file_type(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn dir_kind(kind: Type) -> FileType {
    match kind {
        Type::Directory => FileType::Directory,
        Type::Symlink => FileType::Symlink,
        Type::CharacterDevice => FileType::CharDevice,
        Type::BlockDevice => FileType::BlockDevice,
        Type::Fifo => FileType::NamedPipe,
        Type::Socket => FileType::Socket,
        Type::File => FileType::RegularFile,
    }
}

/// A device number in the kernel's 32-bit encoding, the one FUSE uses
/// (`new_encode_dev`): 12 bits of major, 20 of minor.
fn rdev_to_fuse(rdev: libc::dev_t) -> u32 {
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & !0xff) << 12)
}

fn rdev_from_fuse(rdev: u32) -> libc::dev_t {
    let major = (rdev & 0xfff00) >> 8;
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    libc::makedev(major, minor)
}

fn attr(ino: u64, st: &FileStat) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: system_time(st.st_atime, st.st_atime_nsec),
        mtime: system_time(st.st_mtime, st.st_mtime_nsec),
        ctime: system_time(st.st_ctime, st.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind: file_type(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: rdev_to_fuse(st.st_rdev),
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_round_trip_through_the_fuse_encoding() {
        for (major, minor) in [(1, 3), (4, 64), (136, 0), (259, 70000), (0xfff, 0xfffff)] {
            let dev = libc::makedev(major, minor);
            let fuse = rdev_to_fuse(dev);
            assert_eq!(rdev_from_fuse(fuse), dev, "{major}:{minor}");
        }
        // /dev/null is 1:3, encoded as 0x103 by the kernel.
        assert_eq!(rdev_to_fuse(libc::makedev(1, 3)), 0x103);
    }

    #[test]
    fn times_round_trip() {
        for (secs, nanos) in [(0, 0), (1_700_000_000, 5), (-1, 500_000_000), (-10, 0)] {
            let time = system_time(secs, nanos);
            let ts = timespec(Some(TimeOrNow::SpecificTime(time)));
            assert_eq!((ts.tv_sec, ts.tv_nsec), (secs, nanos));
        }
        assert_eq!(timespec(None).tv_nsec, libc::UTIME_OMIT);
        assert_eq!(timespec(Some(TimeOrNow::Now)).tv_nsec, libc::UTIME_NOW);
    }

    #[test]
    fn reopen_flags_drop_name_resolution_flags() {
        let flags = libc::O_RDWR | libc::O_APPEND | libc::O_NOFOLLOW | libc::O_CREAT;
        assert_eq!(open_flags(flags), OFlag::O_RDWR | OFlag::O_APPEND);
    }
}
