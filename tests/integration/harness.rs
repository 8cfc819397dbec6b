//! The test host: a private set of vroot directories per test, the demo
//! roots (built once by the example scripts and cached), and checks that a
//! container left nothing behind.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const VROOT: &str = env!("CARGO_BIN_EXE_vroot");

fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where built roots are cached between runs (they take a while to build).
fn roots_cache() -> PathBuf {
    std::env::var_os("VROOT_TEST_ROOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/vroot-test/roots"))
}

/// Builds a root with an example script once; later calls reuse it. The
/// script's own text is part of the cache key, so editing it rebuilds.
fn cached_root(kind: &str, script: &str, extra: &[&str]) -> PathBuf {
    assert!(
        nix_is_root(),
        "the integration tests need root (real namespaces, mounts and cgroups)"
    );
    let script_path = repo_dir().join("examples").join(script);
    let script_text = fs::read(&script_path).expect("example script");
    let key = format!(
        "{:016x}",
        fnv1a(&[script_text.as_slice(), extra.join(" ").as_bytes()].concat())
    );
    let cache = roots_cache();
    fs::create_dir_all(&cache).unwrap();
    let root = cache.join(format!("{kind}-{key}"));
    let lock = fs::File::create(cache.join(format!("{kind}.lock"))).unwrap();
    // SAFETY: flock on a file we own; serialises builds across test processes.
    unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX) };
    if !root.join(".vroot-test-complete").exists() {
        let status = Command::new("bash")
            .arg(&script_path)
            .arg(&root)
            .args(extra)
            .status()
            .expect("run the example script");
        assert!(
            status.success(),
            "{script} failed to build {}",
            root.display()
        );
        fs::write(root.join(".vroot-test-complete"), b"").unwrap();
    }
    root
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

pub fn busybox_root() -> PathBuf {
    cached_root("busybox", "build-busybox-root.sh", &[])
}

pub fn busybox_poweroff_root() -> PathBuf {
    cached_root(
        "busybox-poweroff",
        "build-busybox-root.sh",
        &["--poweroff-at-once"],
    )
}

pub fn debian_root() -> PathBuf {
    cached_root("debian", "build-debian-root.sh", &[])
}

/// A private vroot installation: its own config, state, log and lib dirs.
pub struct Host {
    pub dir: PathBuf,
    names: std::cell::RefCell<BTreeSet<String>>,
    /// The named network namespace (`/run/netns/NAME`) every vroot command
    /// runs in, if any (see [`Host::in_netns`]).
    netns: std::cell::RefCell<Option<String>>,
}

impl Host {
    pub fn new(test: &str) -> Self {
        let dir = PathBuf::from(format!("/tmp/vroot-it/{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["etc", "run", "log", "lib"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Host {
            dir,
            names: Default::default(),
            netns: Default::default(),
        }
    }

    /// Runs every later vroot command (start, exec, stop, the cleanup on
    /// drop …) in the named network namespace `/run/netns/NAME`, through
    /// `nsenter --net` (not `ip netns exec`, which remounts /sys and hides
    /// the cgroup tree). That namespace is then "the host" for vroot: links
    /// are made in it. Create the [`TestNetns`] before the `Host`, so that
    /// the host (dropped first) still stops its containers inside it.
    pub fn in_netns(&self, netns: &str) {
        *self.netns.borrow_mut() = Some(netns.to_string());
    }

    /// A copy of `root` of this test's own, to plant things in.
    pub fn private_copy(&self, root: &Path, name: &str) -> PathBuf {
        let copy = self.dir.join(name);
        let status = Command::new("cp")
            .arg("-a")
            .arg(root)
            .arg(&copy)
            .status()
            .expect("run cp");
        assert!(
            status.success(),
            "cannot copy {} to {}",
            root.display(),
            copy.display()
        );
        copy
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// Writes `NAME.toml` with `root` and any extra lines.
    pub fn config(&self, name: &str, root: &Path, extra: &str) {
        self.names.borrow_mut().insert(name.to_string());
        let text = format!("root = \"{}\"\n{extra}\n", root.display());
        fs::write(self.dir.join("etc").join(format!("{name}.toml")), text).unwrap();
    }

    pub fn raw_config(&self, name: &str, text: &str) {
        self.names.borrow_mut().insert(name.to_string());
        fs::write(self.dir.join("etc").join(format!("{name}.toml")), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = match self.netns.borrow().as_deref() {
            Some(netns) => {
                let mut command = Command::new("nsenter");
                command
                    .arg(format!("--net=/run/netns/{netns}"))
                    .arg("--")
                    .arg(VROOT);
                command
            }
            None => Command::new(VROOT),
        };
        command
            .args(args)
            .env("VROOT_CONFIG_DIR", self.dir.join("etc"))
            .env("VROOT_STATE_DIR", self.dir.join("run"))
            .env("VROOT_LOG_DIR", self.dir.join("log"))
            .env("VROOT_LIB_DIR", self.dir.join("lib"))
            .stdin(Stdio::null());
        command
    }

    pub fn vroot(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run vroot")
    }

    /// Runs vroot and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.vroot(args);
        assert!(
            output.status.success(),
            "vroot {args:?} failed ({:?}): {}{}",
            output.status,
            text(&output.stdout),
            text(&output.stderr)
        );
        text(&output.stdout)
    }

    pub fn exec(&self, name: &str, command: &[&str]) -> Output {
        let mut args = vec!["exec", name, "--"];
        args.extend_from_slice(command);
        self.vroot(&args)
    }

    /// Runs a command in the container and returns its trimmed stdout.
    pub fn exec_ok(&self, name: &str, command: &[&str]) -> String {
        let output = self.exec(name, command);
        assert!(
            output.status.success(),
            "exec {command:?} in {name} failed ({:?}): {}",
            output.status,
            text(&output.stderr)
        );
        text(&output.stdout).trim().to_string()
    }

    pub fn status(&self, name: &str) -> (i32, serde_json::Value) {
        let output = self.vroot(&["status", name, "--json"]);
        let value = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
        (output.status.code().unwrap_or(-1), value)
    }

    pub fn init_pid(&self, name: &str) -> i32 {
        self.status(name).1["init_pid"]
            .as_i64()
            .expect("a running container has an init pid") as i32
    }

    pub fn supervisor_pid(&self, name: &str) -> i32 {
        self.status(name).1["supervisor_pid"]
            .as_i64()
            .expect("a supervisor pid") as i32
    }

    pub fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.join("log").join(format!("{name}.log"))).unwrap_or_default()
    }

    /// Asserts that nothing of container `name` remains on the host.
    pub fn assert_nothing_left(&self, name: &str, root: &Path) {
        let state = self.state_dir().join(name);
        assert!(
            !state.exists(),
            "state directory {} is left",
            state.display()
        );
        for dir in cgroup_dirs(name) {
            assert!(!dir.exists(), "cgroup {} is left", dir.display());
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root_text = root.display().to_string();
        for line in mountinfo.lines() {
            assert!(
                !line.contains(&root_text) && !line.contains(&state.display().to_string()),
                "a host mount refers to the container: {line}"
            );
        }
        let tasks = processes_in_cgroup(name);
        assert!(tasks.is_empty(), "processes of {name} are left: {tasks:?}");
        // This host's vroot processes that work on this container (the
        // supervisor keeps the command line of the `start` that forked it).
        let supervisors: Vec<i32> =
            processes_with_env(&format!("VROOT_STATE_DIR={}", self.state_dir().display()))
                .into_iter()
                .filter(|pid| {
                    fs::read(format!("/proc/{pid}/cmdline"))
                        .map(|line| line.split(|b| *b == 0).any(|arg| arg == name.as_bytes()))
                        .unwrap_or(false)
                })
                .collect();
        assert!(
            supervisors.is_empty(),
            "vroot processes are left: {supervisors:?}"
        );
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for name in self.names.borrow().iter() {
            let _ = self.command(&["stop", name, "--kill"]).output();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The container's cgroup directory in every hierarchy of this host.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let path = entry.path();
        if path.join("cgroup.procs").exists() || path.join("tasks").exists() {
            dirs.push(path.join("vroot").join(name));
        }
    }
    if Path::new("/sys/fs/cgroup/cgroup.procs").exists() {
        dirs.push(PathBuf::from("/sys/fs/cgroup/vroot").join(name));
    }
    dirs
}

/// Live host pids whose cgroup (in any hierarchy) is the container's or
/// below it. Zombies are dead: reaping them is their parent's business (the
/// host's init, once a supervisor was killed).
pub fn processes_in_cgroup(name: &str) -> Vec<i32> {
    let needle = format!("/vroot/{name}");
    pids()
        .into_iter()
        .filter(|pid| !is_zombie(*pid))
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/cgroup"))
                .map(|text| {
                    text.lines().any(|line| {
                        line.split(':').nth(2).is_some_and(|path| {
                            path == needle || path.starts_with(&format!("{needle}/"))
                        })
                    })
                })
                .unwrap_or(false)
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat[stat.rfind(')').unwrap() + 2..].starts_with('Z'))
        .unwrap_or(true)
}

pub fn processes_with_env(entry: &str) -> Vec<i32> {
    pids()
        .into_iter()
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|e| e == entry.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

fn pids() -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| *pid != std::process::id() as i32)
        .collect()
}

pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Host processes with an open fd (or cwd) on a path below `dir`.
pub fn processes_with_fd_under(dir: &Path) -> Vec<(i32, PathBuf)> {
    let mut found = Vec::new();
    for pid in pids() {
        let links = fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .chain([PathBuf::from(format!("/proc/{pid}/cwd"))]);
        for link in links {
            if let Ok(target) = fs::read_link(&link) {
                if target.starts_with(dir) {
                    found.push((pid, target));
                }
            }
        }
    }
    found
}

/// The number of open fds of a process.
pub fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

pub fn sysvinit_root() -> PathBuf {
    cached_root(
        "debian-sysvinit",
        "build-debian-root.sh",
        &["--init", "sysvinit"],
    )
}

/// Waits until a process has exited (a zombie counts as exited). After a
/// poweroff inside, the supervisor removes its state, then exits: nothing
/// waits for it, so a leftover check must first let it finish.
pub fn wait_process_gone(pid: i32) {
    wait_until(Duration::from_secs(10), "the process to exit", || {
        is_zombie(pid)
    });
}

/// One path of a tree, as far as "byte-identical" goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// A file's bytes or a symlink's target; empty for a directory.
    pub content: Vec<u8>,
}

/// Every path below `dir` (not following symlinks) with its kind, mode,
/// owner and content.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Snapshot> {
    use std::os::unix::fs::MetadataExt;
    let mut found = std::collections::BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in fs::read_dir(&current).unwrap().flatten() {
            let path = entry.path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let content = if metadata.file_type().is_symlink() {
                fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if metadata.is_file() {
                fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            if metadata.is_dir() {
                pending.push(path.clone());
            }
            found.insert(
                path.strip_prefix(dir).unwrap().to_path_buf(),
                Snapshot {
                    mode: metadata.mode(),
                    uid: metadata.uid(),
                    gid: metadata.gid(),
                    content,
                },
            );
        }
    }
    found
}

/// A named network namespace of a test's own (`ip netns add`), with `lo`
/// up; deleted on drop. Link names in it do not clash with the host's or
/// another test's.
pub struct TestNetns {
    pub name: String,
}

impl TestNetns {
    /// `vrt-TAG-PID`: unique per test (TAG) and test process.
    pub fn new(tag: &str) -> Self {
        let name = format!("vrt-{tag}-{}", std::process::id());
        // A namespace left by a killed earlier run of the same pid.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run_ok("ip", &["netns", "add", &name]);
        let netns = TestNetns { name };
        netns.ip(&["link", "set", "lo", "up"]);
        netns
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Runs `ip -n NAME ARGS…`, asserts success and returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Runs `ip -n NAME ARGS…` and returns its output, success or not.
    pub fn try_ip(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip")
    }

    /// A host program run inside the namespace (`nsenter --net`).
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.path()))
            .arg("--")
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {program} in {}: {e}", self.name))
    }

    /// Every link in the namespace, as `ip -j link show` describes it.
    pub fn link_details(&self) -> Vec<serde_json::Value> {
        let json = self.ip(&["-j", "link", "show"]);
        match serde_json::from_str(&json) {
            Ok(serde_json::Value::Array(links)) => links,
            other => panic!("ip -j link show in {}: {other:?}: {json}", self.name),
        }
    }

    /// The names of the links in the namespace.
    pub fn links(&self) -> BTreeSet<String> {
        self.link_details()
            .iter()
            .map(|link| {
                link["ifname"]
                    .as_str()
                    .expect("a link has an ifname")
                    .to_string()
            })
            .collect()
    }

    /// One link's details, if the namespace has it.
    pub fn link(&self, name: &str) -> Option<serde_json::Value> {
        self.link_details()
            .into_iter()
            .find(|link| link["ifname"] == name)
    }
}

impl Drop for TestNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs a host program, asserts success and returns its stdout.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed ({:?}): {}{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}
