//! The daemon end to end, as root: mount a directory, use it, make it hang,
//! stall, abort its connection, and bring it back.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long a request that hangs must at least stay unanswered.
const HANG: Duration = Duration::from_millis(300);
/// How long anything that should happen may take.
const PATIENCE: Duration = Duration::from_secs(10);

/// The tests need root and FUSE; elsewhere they say so and pass.
fn can_run() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let fuse = Path::new("/dev/fuse").exists();
    if !(root && fuse) {
        eprintln!("skipped: needs root and /dev/fuse");
    }
    root && fuse
}

/// A running daemon serving `source` at `mountpoint`, all below a fresh
/// temporary directory. Dropping it kills the daemon, lazily unmounts and
/// removes the directory, whatever state the test left it in.
struct Storage {
    root: PathBuf,
    source: PathBuf,
    mountpoint: PathBuf,
    control: PathBuf,
    daemon: Child,
}

impl Storage {
    fn start(name: &str) -> Storage {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().canonicalize().unwrap().join(format!(
            "vroot-testfs-{name}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let (source, mountpoint) = (root.join("source"), root.join("mnt"));
        fs::create_dir_all(source.join("dir")).unwrap();
        fs::create_dir_all(&mountpoint).unwrap();
        fs::write(source.join("file"), "hello\n").unwrap();
        fs::write(source.join("dir/inner"), "inner\n").unwrap();
        fs::write(source.join("untouched"), "untouched\n").unwrap();
        fs::copy("/bin/true", source.join("true")).unwrap();
        let (control, ready) = (root.join("control"), root.join("ready"));
        let daemon = Command::new(env!("CARGO_BIN_EXE_vroot-testfs"))
            .arg("--source")
            .arg(&source)
            .arg("--mountpoint")
            .arg(&mountpoint)
            .arg("--control")
            .arg(&control)
            .arg("--ready-file")
            .arg(&ready)
            .stdin(Stdio::null())
            .spawn()
            .expect("start vroot-testfs");
        let mut storage = Storage {
            root,
            source,
            mountpoint,
            control,
            daemon,
        };
        let started = Instant::now();
        while !ready.exists() {
            if let Some(status) = storage.daemon.try_wait().unwrap() {
                panic!("vroot-testfs exited before it was ready: {status}");
            }
            assert!(started.elapsed() < PATIENCE, "vroot-testfs is not ready");
            sleep(Duration::from_millis(10));
        }
        let pid = fs::read_to_string(&ready).unwrap();
        assert_eq!(pid.trim(), storage.daemon.id().to_string());
        storage
    }

    fn mnt(&self, path: &str) -> PathBuf {
        self.mountpoint.join(path)
    }

    /// Sends one command; returns the reply line.
    fn command(&self, command: &str) -> String {
        let mut stream = UnixStream::connect(&self.control).expect("connect to the control socket");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        writeln!(stream, "{command}").unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        line.trim_end().to_owned()
    }

    /// The number of requests `status` reports parked, checking the state.
    fn parked(&self, state: &str) -> usize {
        let reply = self.command("status");
        let parked = reply
            .strip_prefix(&format!("ok {state} parked="))
            .unwrap_or_else(|| panic!("expected {state}, got {reply:?}"));
        parked.parse().unwrap()
    }

    /// Waits until the status is `state` with at least one request parked.
    fn wait_parked(&self, state: &str) -> usize {
        let started = Instant::now();
        loop {
            let parked = self.parked(state);
            if parked >= 1 {
                return parked;
            }
            assert!(started.elapsed() < PATIENCE, "nothing got parked");
            sleep(Duration::from_millis(10));
        }
    }

    /// The FUSE connection's number: the minor of the mount's device, from
    /// mountinfo (stat(2) on the mount could hang).
    fn connection(&self) -> String {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mountpoint = self.mountpoint.to_str().unwrap();
        let line = mountinfo
            .lines()
            .rfind(|line| line.split(' ').nth(4) == Some(mountpoint))
            .expect("the mount is in mountinfo");
        let fields: Vec<&str> = line.split(' ').collect();
        let fstype = &fields[fields.iter().position(|f| *f == "-").unwrap() + 1];
        assert_eq!(*fstype, "fuse.vroot-testfs");
        fields[2].split(':').nth(1).unwrap().to_owned()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Runs a program on the mount in the background.
fn spawn(program: &str, args: &[&Path]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn wait_for(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if started.elapsed() >= timeout {
            return None;
        }
        sleep(Duration::from_millis(10));
    }
}

/// Asserts that `child` is still blocked after [`HANG`].
fn assert_blocked(child: &mut Child) {
    if let Some(status) = wait_for(child, HANG) {
        panic!("the process on the mount finished ({status}) instead of hanging");
    }
}

/// Waits for `child` to end, and its output.
fn finish(mut child: Child) -> Output {
    let status = wait_for(&mut child, PATIENCE);
    assert!(status.is_some(), "the process on the mount did not finish");
    child.wait_with_output().unwrap()
}

fn abort_connection(connection: &str) {
    let connections = Path::new("/sys/fs/fuse/connections");
    if !connections.join(connection).exists() {
        nix::mount::mount(
            Some("none"),
            connections,
            Some("fusectl"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        )
        .expect("mount fusectl");
    }
    fs::write(connections.join(connection).join("abort"), "1").expect("abort the connection");
}

#[test]
fn serves_hangs_and_releases() {
    if !can_run() {
        return;
    }
    let storage = Storage::start("hang");

    // Reading, writing, creating, renaming, symlinks, exec.
    assert_eq!(fs::read_to_string(storage.mnt("file")).unwrap(), "hello\n");
    assert_eq!(
        fs::read_to_string(storage.mnt("dir/inner")).unwrap(),
        "inner\n"
    );
    fs::write(storage.mnt("dir/new"), "new\n").unwrap();
    assert_eq!(
        fs::read_to_string(storage.source.join("dir/new")).unwrap(),
        "new\n"
    );
    fs::OpenOptions::new()
        .append(true)
        .open(storage.mnt("file"))
        .unwrap()
        .write_all(b"more\n")
        .unwrap();
    assert_eq!(
        fs::read_to_string(storage.mnt("file")).unwrap(),
        "hello\nmore\n"
    );
    fs::rename(storage.mnt("dir/new"), storage.mnt("renamed")).unwrap();
    assert!(!storage.source.join("dir/new").exists());
    assert_eq!(fs::read_to_string(storage.mnt("renamed")).unwrap(), "new\n");
    symlink("dir/inner", storage.mnt("link")).unwrap();
    assert_eq!(
        fs::read_link(storage.mnt("link")).unwrap(),
        Path::new("dir/inner")
    );
    assert_eq!(fs::read_to_string(storage.mnt("link")).unwrap(), "inner\n");
    assert!(fs::symlink_metadata(storage.mnt("link"))
        .unwrap()
        .is_symlink());
    assert_eq!(
        fs::read_link(storage.source.join("link")).unwrap(),
        Path::new("dir/inner")
    );
    // A dangling symlink is served as what it is.
    symlink("/nonexistent-vroot-testfs", storage.mnt("dangling")).unwrap();
    assert!(fs::symlink_metadata(storage.mnt("dangling"))
        .unwrap()
        .is_symlink());
    assert_eq!(
        fs::metadata(storage.mnt("dangling")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    fs::create_dir(storage.mnt("made")).unwrap();
    fs::remove_dir(storage.mnt("made")).unwrap();
    fs::remove_file(storage.mnt("renamed")).unwrap();
    let mut names: Vec<String> = fs::read_dir(&storage.mountpoint)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dangling", "dir", "file", "link", "true", "untouched"]
    );
    assert!(
        fs::metadata(storage.mnt("true"))
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0
    );
    let status = Command::new(storage.mnt("true")).status().unwrap();
    assert!(status.success(), "exec from the mount: {status}");

    // Hung: a reader's request is read and parked, the reader waits.
    assert_eq!(storage.command("hang"), "ok hung");
    let mut reader = spawn("cat", &[&storage.mnt("untouched")]);
    assert_blocked(&mut reader);
    let parked = storage.wait_parked("hung");
    assert!(parked >= 1);
    assert_blocked(&mut reader);

    // Released: the parked requests are performed and answered.
    assert_eq!(storage.command("release"), format!("ok released={parked}"));
    let output = finish(reader);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, b"untouched\n");
    assert_eq!(storage.parked("serving"), 0);
    assert_eq!(
        fs::read_to_string(storage.mnt("file")).unwrap(),
        "hello\nmore\n"
    );

    assert_eq!(storage.command("bogus").split(' ').next(), Some("error"));
}

#[test]
fn abort_then_release_mounts_afresh() {
    if !can_run() {
        return;
    }
    let storage = Storage::start("abort");
    assert_eq!(fs::read_to_string(storage.mnt("file")).unwrap(), "hello\n");
    let connection = storage.connection();

    assert_eq!(storage.command("hang"), "ok hung");
    let mut reader = spawn("cat", &[&storage.mnt("untouched")]);
    storage.wait_parked("hung");
    assert_blocked(&mut reader);

    abort_connection(&connection);
    let status = wait_for(&mut reader, Duration::from_secs(2));
    assert!(status.is_some(), "the reader did not fail after the abort");
    let output = reader.wait_with_output().unwrap();
    assert!(!output.status.success());
    // The request in flight fails with ECONNABORTED (fusectl's abort), new
    // ones with ENOTCONN.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Software caused connection abort")
            || stderr.contains("Transport endpoint is not connected"),
        "expected ECONNABORTED or ENOTCONN, got {stderr:?}"
    );
    let err = fs::read(storage.mnt("file")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOTCONN), "{err}");
    assert!(storage.command("status").starts_with("ok aborted parked="));

    let reply = storage.command("release");
    assert!(reply.starts_with("ok remounted"), "{reply}");
    assert_eq!(storage.parked("serving"), 0);
    assert_eq!(fs::read_to_string(storage.mnt("file")).unwrap(), "hello\n");
    assert_eq!(
        fs::read_to_string(storage.mnt("untouched")).unwrap(),
        "untouched\n"
    );
    // The fresh mount works all the way, hanging included.
    storage.connection();
    assert_eq!(storage.command("hang"), "ok hung");
    let reader = spawn("cat", &[&storage.mnt("dir/inner")]);
    storage.wait_parked("hung");
    assert!(storage.command("release").starts_with("ok released="));
    let output = finish(reader);
    assert_eq!(output.stdout, b"inner\n");
}

#[test]
fn stalled_requests_stay_queued_and_killable() {
    if !can_run() {
        return;
    }
    let storage = Storage::start("stall");
    assert_eq!(storage.command("stall"), "ok stalled");
    let mut reader = spawn("cat", &[&storage.mnt("untouched")]);
    assert_blocked(&mut reader);
    // Nothing was read from the kernel, so nothing is parked...
    assert_eq!(storage.parked("stalled"), 0);
    // ...and the waiting process can be killed.
    reader.kill().unwrap();
    let status = wait_for(&mut reader, Duration::from_secs(2));
    assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGKILL));

    let mut reader = spawn("cat", &[&storage.mnt("file")]);
    assert_blocked(&mut reader);
    assert!(storage.command("release").starts_with("ok released="));
    let output = finish(reader);
    assert_eq!(output.stdout, b"hello\n");
    assert_eq!(storage.parked("serving"), 0);

    // `exit` unmounts and ends the daemon.
    let mut storage = storage;
    assert_eq!(storage.command("exit"), "ok exiting");
    let status = wait_for(&mut storage.daemon, PATIENCE).expect("the daemon exits");
    assert!(status.success());
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(storage.mountpoint.to_str().unwrap()));
}
