//! fuser's `Filesystem` for one session: every request becomes a job that
//! passes the [`Gate`] and, once admitted, runs the [`Passthrough`]
//! operation and replies.

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow,
    WriteFlags,
};
use nix::sys::statvfs::Statvfs;

use crate::gate::{Gate, Outcome};
use crate::passthrough::{Caller, DirEntry, Passthrough, SetAttr, Xattr};

/// How long the kernel may cache entries and attributes.
const TTL: Duration = Duration::from_secs(1);

/// A reply object: answered with the operation's value or an errno.
trait Answer: Send + 'static {
    type Value;
    fn ok(self, value: Self::Value);
    fn fail(self, errno: Errno);
}

macro_rules! answer {
    ($reply:ty, $value:ty, |$this:ident, $v:ident| $ok:expr) => {
        impl Answer for $reply {
            type Value = $value;
            fn ok($this, $v: $value) {
                $ok
            }
            fn fail(self, errno: Errno) {
                self.error(errno)
            }
        }
    };
}

answer!(ReplyEntry, FileAttr, |self, attr| self.entry(
    &TTL,
    &attr,
    Generation(0)
));
answer!(ReplyAttr, FileAttr, |self, attr| self.attr(&TTL, &attr));
answer!(ReplyEmpty, (), |self, _unit| self.ok());
answer!(ReplyData, Vec<u8>, |self, data| self.data(&data));
answer!(ReplyWrite, u32, |self, written| self.written(written));
answer!(ReplyOpen, u64, |self, fh| self
    .opened(FileHandle(fh), FopenFlags::empty()));
answer!(ReplyCreate, (FileAttr, u64), |self, created| {
    let (attr, fh) = created;
    self.created(
        &TTL,
        &attr,
        Generation(0),
        FileHandle(fh),
        FopenFlags::empty(),
    )
});
answer!(ReplyStatfs, Statvfs, |self, st| self.statfs(
    st.blocks(),
    st.blocks_free(),
    st.blocks_available(),
    st.files(),
    st.files_free(),
    st.block_size() as u32,
    st.name_max() as u32,
    st.fragment_size() as u32,
));
answer!(ReplyXattr, Xattr, |self, xattr| match xattr {
    Xattr::Size(size) => self.size(size),
    Xattr::Data(data) => self.data(&data),
});
answer!(ReplyDirectory, Vec<DirEntry>, |self, entries| {
    let mut reply = self;
    for entry in entries {
        if reply.add(INodeNo(entry.ino), entry.offset, entry.kind, &entry.name) {
            break;
        }
    }
    reply.ok()
});

/// For `forget`, which the kernel expects no answer to.
struct NoReply;

impl Answer for NoReply {
    type Value = ();
    fn ok(self, _: ()) {}
    fn fail(self, _: Errno) {}
}

pub struct TestFs {
    fs: Arc<Passthrough>,
    gate: Arc<Gate>,
}

impl TestFs {
    pub fn new(fs: Passthrough, gate: Arc<Gate>) -> TestFs {
        TestFs {
            fs: Arc::new(fs),
            gate,
        }
    }

    fn submit<R, F>(&self, req: &Request, reply: R, op: F)
    where
        R: Answer,
        F: FnOnce(&Passthrough) -> Result<R::Value, Errno> + Send + 'static,
    {
        let fs = Arc::clone(&self.fs);
        self.gate.admit(
            req.pid(),
            Box::new(move |outcome| match outcome {
                Outcome::Perform => match op(&fs) {
                    Ok(value) => reply.ok(value),
                    Err(errno) => reply.fail(errno),
                },
                Outcome::Fail(errno) => reply.fail(errno),
            }),
        );
    }
}

fn caller(req: &Request) -> Caller {
    Caller {
        uid: req.uid(),
        gid: req.gid(),
    }
}

impl Filesystem for TestFs {
    fn lookup(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let name = name.to_owned();
        self.submit(req, reply, move |fs| fs.lookup(parent.0, &name));
    }

    fn forget(&self, req: &Request, ino: INodeNo, nlookup: u64) {
        self.submit(req, NoReply, move |fs| {
            fs.forget(ino.0, nlookup);
            Ok(())
        });
    }

    fn getattr(&self, req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        self.submit(req, reply, move |fs| fs.getattr(ino.0));
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let change = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime,
            mtime,
            fh: fh.map(|fh| fh.0),
        };
        self.submit(req, reply, move |fs| fs.setattr(ino.0, change));
    }

    fn readlink(&self, req: &Request, ino: INodeNo, reply: ReplyData) {
        self.submit(req, reply, move |fs| fs.readlink(ino.0));
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let (caller, name) = (caller(req), name.to_owned());
        self.submit(req, reply, move |fs| {
            fs.mknod(caller, parent.0, &name, mode, rdev)
        });
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let (caller, name) = (caller(req), name.to_owned());
        self.submit(req, reply, move |fs| {
            fs.mkdir(caller, parent.0, &name, mode)
        });
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.submit(req, reply, move |fs| fs.unlink(parent.0, &name));
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.submit(req, reply, move |fs| fs.rmdir(parent.0, &name));
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let (caller, name, target) = (caller(req), link_name.to_owned(), target.to_owned());
        self.submit(req, reply, move |fs| {
            fs.symlink(caller, parent.0, &name, &target)
        });
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (name, newname) = (name.to_owned(), newname.to_owned());
        self.submit(req, reply, move |fs| {
            fs.rename(parent.0, &name, newparent.0, &newname, flags.bits())
        });
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let newname = newname.to_owned();
        self.submit(req, reply, move |fs| fs.link(ino.0, newparent.0, &newname));
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        self.submit(req, reply, move |fs| fs.open(ino.0, flags.0));
    }

    fn read(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        self.submit(req, reply, move |fs| fs.read(fh.0, offset, size));
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let data = data.to_vec();
        self.submit(req, reply, move |fs| fs.write(fh.0, offset, &data));
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        self.submit(req, reply, |_| Ok(()));
    }

    fn release(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.submit(req, reply, move |fs| {
            fs.release(fh.0);
            Ok(())
        });
    }

    fn fsync(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        self.submit(req, reply, move |fs| fs.fsync(fh.0, datasync));
    }

    fn opendir(&self, req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        self.submit(req, reply, move |fs| fs.opendir(ino.0));
    }

    fn readdir(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        reply: ReplyDirectory,
    ) {
        self.submit(req, reply, move |fs| fs.readdir(fh.0, offset));
    }

    fn releasedir(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.submit(req, reply, move |fs| {
            fs.releasedir(fh.0);
            Ok(())
        });
    }

    fn statfs(&self, req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        self.submit(req, reply, |fs| fs.statfs());
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.submit(req, reply, move |fs| {
            fs.setxattr(ino.0, &name, &value, flags)
        });
    }

    fn getxattr(&self, req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let name = name.to_owned();
        self.submit(req, reply, move |fs| fs.getxattr(ino.0, &name, size));
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        self.submit(req, reply, move |fs| fs.listxattr(ino.0, size));
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let name = name.to_owned();
        self.submit(req, reply, move |fs| fs.removexattr(ino.0, &name));
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let (caller, name) = (caller(req), name.to_owned());
        self.submit(req, reply, move |fs| {
            fs.create(caller, parent.0, &name, mode, flags)
        });
    }

    fn fallocate(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        self.submit(req, reply, move |fs| {
            fs.fallocate(fh.0, offset, length, mode)
        });
    }
}
