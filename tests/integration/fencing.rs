//! Fencing from the host namespace with the container's root on storage
//! that hangs: the FUSE test storage serves the shared root, many processes
//! inside read from it, and then it stops answering.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::test_storage::TestStorage;

/// Readers that keep asking the storage: lookups of names that do not
/// exist (never cached) and opens of a file (each open is a request).
const READERS: &str = "for i in $(seq 40); do (while true; do cat /etc/hostname /no-such-$i; ls /bin; done) >/dev/null 2>&1 & done; echo started";

struct Shared {
    storage: TestStorage,
    root: PathBuf,
}

/// A busybox shared root served through the test storage.
fn shared_root(host: &Host) -> Shared {
    let source = host.dir.join("export");
    std::fs::create_dir_all(&source).unwrap();
    let copy = host.private_copy(&busybox_root(), "export/busybox");
    assert!(copy.join("bin/busybox").exists());
    let storage = TestStorage::serve(&source, &host.dir.join("private"));
    let root = storage.mountpoint.join("busybox");
    assert!(root.join("bin/busybox").exists(), "the root is served");
    Shared { storage, root }
}

fn mount_namespace(pid: i32) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/mnt"))
        .unwrap()
        .ino()
}

fn members_of_mount_namespace(inode: u64) -> Vec<i32> {
    let wanted = format!("mnt:[{inode}]");
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
                .is_ok_and(|link| link.to_string_lossy() == wanted)
        })
        .collect()
}

/// The host keeps working: programs start, local files are read and
/// written, and vroot answers about other containers.
fn assert_host_usable(host: &Host) {
    let started = Instant::now();
    let probe = host.dir.join("host-usable");
    std::fs::write(&probe, b"yes").unwrap();
    assert_eq!(std::fs::read(&probe).unwrap(), b"yes");
    let output = std::process::Command::new("/bin/sh")
        .args(["-c", "echo alive; ls / >/dev/null"])
        .output()
        .unwrap();
    assert_eq!(text(&output.stdout).trim(), "alive");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the host was slow: {:?}",
        started.elapsed()
    );
}

/// A shell looping on the builtin `[ -e ]`: it never execs and never faults
/// in new pages, so once the storage hangs its next lookup is certain to be
/// a request of its own, sent and parked. (The readers above may all end up
/// waiting on page locks of a parked read-ahead instead, which a kill ends.)
const LOOKUP_LOOP: &str = "while :; do [ -e /no-such-loop ]; done >/dev/null 2>&1 & echo started";

fn start_readers(host: &Host, name: &str) {
    assert_eq!(host.exec_ok(name, &["sh", "-c", READERS]), "started");
    assert_eq!(host.exec_ok(name, &["sh", "-c", LOOKUP_LOOP]), "started");
    wait_until(Duration::from_secs(10), "the readers to run", || {
        processes_in_cgroup(name).len() > 41
    });
}

/// Tasks of container `name` waiting for the answer to a FUSE request.
fn tasks_waiting_on_fuse(name: &str) -> std::collections::BTreeSet<i32> {
    processes_in_cgroup(name)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .is_ok_and(|wchan| wchan.trim() == "request_wait_answer")
        })
        .collect()
}

/// Hangs the storage and waits until a reader of the container waits on a
/// request the storage has read and parked: a kill then leaves it in
/// uninterruptible sleep until the request ends, and the others queue
/// behind it. The same task is seen waiting twice, 200 ms apart, so that
/// its request was read (the hung storage still reads and parks them), not
/// merely queued. (FUSE serialises lookups in one directory, so how many
/// requests park depends on timing; and with a live supervisor one may be
/// its watchdog's probe, which is not the container's.)
fn hang_under_readers(shared: &Shared, name: &str) {
    shared.storage.hang();
    let mut previous = std::collections::BTreeSet::new();
    // Generous: on a loaded machine the readers may take a while to reach
    // the storage again; the bound that matters is the fence's, below.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let waiting = tasks_waiting_on_fuse(name);
        let again = waiting.intersection(&previous).count() > 0;
        previous = waiting;
        if again && shared.storage.parked() >= 1 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no task of {name} waits on a parked request ({} parked); its tasks:\n{}",
            shared.storage.parked(),
            describe_tasks(name)
        );
    }
}

/// One line per task of container `name`: pid, state, wchan and command,
/// for the message of a failed wait.
fn describe_tasks(name: &str) -> String {
    let read = |pid: i32, what: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{what}")).unwrap_or_default()
    };
    processes_in_cgroup(name)
        .into_iter()
        .map(|pid| {
            let stat = read(pid, "stat");
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            let command = read(pid, "cmdline").replace('\0', " ");
            format!("{pid} {state} {} {}", read(pid, "wchan"), command.trim())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fence_kills_and_isolates_a_container_on_hung_storage() {
    let host = Host::new("fence-hung");
    let shared = shared_root(&host);
    host.config("hung", &shared.root, "");
    host.ok(&["start", "hung"]);
    let namespace = mount_namespace(host.init_pid("hung"));
    start_readers(&host, "hung");
    hang_under_readers(&shared, "hung");
    assert!(shared.storage.state().contains("hung"));

    // Status answers at once, from host-local state only.
    let asked = Instant::now();
    let (code, status) = host.status("hung");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "status took {:?}",
        asked.elapsed()
    );
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["state"], "running");

    let fencing = Instant::now();
    let output = host.vroot(&["fence", "hung", "--json"]);
    let took = fencing.elapsed();
    assert!(
        output.status.success(),
        "fence failed: {}",
        text(&output.stderr)
    );
    assert!(took < Duration::from_secs(10), "fence took {took:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["verified"], true, "{report}");
    assert!(report["tasks_killed"].as_u64().unwrap() > 40, "{report}");
    let released = report["storage_released"].to_string();
    assert!(released.contains("fuse.vroot-testfs"), "{report}");

    assert!(processes_in_cgroup("hung").is_empty());
    assert!(
        members_of_mount_namespace(namespace).is_empty(),
        "the container's mount namespace is still alive"
    );
    assert_host_usable(&host);
    wait_until(Duration::from_secs(5), "the supervisor to finish", || {
        !host.state_dir().join("hung").exists()
    });
    for dir in cgroup_dirs("hung") {
        assert!(!dir.exists(), "cgroup {} is left", dir.display());
    }

    // Fenced stays down until unfenced.
    let (code, status) = host.status("hung");
    assert_eq!(code, 3);
    assert_eq!(status["state"], "fenced");
    // The marker keeps what the fence did, for the post-mortem.
    let outcome = status["fenced"]["outcome"].as_str().unwrap_or_default();
    assert!(
        outcome.starts_with("fenced in ") && outcome.contains("storage released: fuse"),
        "{status}"
    );
    shared.storage.release();
    let refused = host.vroot(&["start", "hung"]);
    assert_eq!(refused.status.code(), Some(6), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("vroot unfence hung"));
    host.ok(&["start", "--unfence", "hung"]);
    assert_eq!(host.exec_ok("hung", &["echo", "back"]), "back");
    host.ok(&["stop", "hung"]);
    host.assert_nothing_left("hung", &shared.root);
}

#[test]
fn fence_works_with_the_supervisor_killed_first() {
    let host = Host::new("fence-orphan");
    let shared = shared_root(&host);
    host.config("orphan", &shared.root, "");
    host.ok(&["start", "orphan"]);
    let namespace = mount_namespace(host.init_pid("orphan"));
    start_readers(&host, "orphan");
    // SAFETY: kill(2) on the supervisor's pid, read from vroot status.
    unsafe { libc::kill(host.supervisor_pid("orphan"), libc::SIGKILL) };
    wait_until(Duration::from_secs(5), "the supervisor's death", || {
        host.status("orphan").1["supervisor_alive"] == false
    });
    hang_under_readers(&shared, "orphan");

    let fencing = Instant::now();
    let output = host.vroot(&["fence", "orphan", "--timeout", "10"]);
    assert!(
        output.status.success(),
        "fence failed: {}",
        text(&output.stderr)
    );
    assert!(fencing.elapsed() < Duration::from_secs(10));
    assert!(text(&output.stdout).contains("orphan: fenced in"));
    assert!(processes_in_cgroup("orphan").is_empty());
    assert!(members_of_mount_namespace(namespace).is_empty());
    // The fence cleaned up what the dead supervisor left.
    assert!(!host.state_dir().join("orphan").exists());
    for dir in cgroup_dirs("orphan") {
        assert!(!dir.exists(), "cgroup {} is left", dir.display());
    }
    assert_host_usable(&host);
    assert_eq!(host.status("orphan").1["state"], "fenced");
    // Fencing a fenced container succeeds again.
    let again = host.ok(&["fence", "orphan"]);
    assert!(again.contains("nothing was running"), "{again}");
}

#[test]
fn the_watchdog_fences_a_hung_container_and_restarts_it_on_recovery() {
    let host = Host::new("fence-watchdog");
    let shared = shared_root(&host);
    host.config(
        "dog",
        &shared.root,
        "[fence]\non_hang = \"fence\"\nhang_timeout = 2\nrestart_on_recovery = true",
    );
    host.ok(&["start", "dog"]);
    let first_init = host.init_pid("dog");
    wait_until(Duration::from_secs(5), "a first healthy probe", || {
        host.status("dog").1["storage"]["health"] == "healthy"
    });
    start_readers(&host, "dog");

    let hung_at = Instant::now();
    shared.storage.hang();
    wait_until(Duration::from_secs(10), "the watchdog to fence", || {
        host.status("dog").1["state"] == "fenced"
    });
    let took = hung_at.elapsed();
    assert!(
        took <= Duration::from_secs(2 + 2),
        "the watchdog fenced {took:?} after the hang (hang_timeout 2 s)"
    );
    wait_until(
        Duration::from_secs(5),
        "the container's tasks to go",
        || processes_in_cgroup("dog").is_empty(),
    );
    let log = host.log("dog");
    assert!(log.contains("did not answer for"), "{log}");
    assert!(log.contains("waiting for the storage"), "{log}");
    // Still fenced while the storage is down: nothing restarts.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(host.status("dog").1["state"], "fenced");

    shared.storage.release();
    wait_until(Duration::from_secs(15), "the restart on recovery", || {
        let status = host.status("dog").1;
        status["state"] == "running" && status["init_pid"] != first_init
    });
    assert_eq!(host.exec_ok("dog", &["echo", "recovered"]), "recovered");
    assert!(
        host.status("dog").1["fenced"].is_null(),
        "the watchdog's marker is cleared"
    );
    host.ok(&["stop", "dog"]);
    host.assert_nothing_left("dog", &shared.root);
}

#[test]
fn the_watchdog_reports_a_hang_without_fencing_when_told_not_to() {
    let host = Host::new("fence-report");
    let shared = shared_root(&host);
    host.config("watched", &shared.root, "[fence]\nhang_timeout = 1");
    host.ok(&["start", "watched"]);
    wait_until(Duration::from_secs(5), "a first healthy probe", || {
        host.status("watched").1["storage"]["health"] == "healthy"
    });
    shared.storage.hang();
    wait_until(
        Duration::from_secs(5),
        "the storage to show as hung",
        || host.status("watched").1["storage"]["health"] == "hung",
    );
    let line = host.ok(&["status", "watched"]);
    assert!(line.contains("storage hung"), "{line}");
    assert_eq!(host.status("watched").1["state"], "running");
    // Pacemaker hears of it: the OCF monitor fails a container whose init
    // runs on storage that does not answer.
    let monitor = |host: &Host| {
        host.command(&["ocf-agent", "monitor"])
            .env("OCF_RESKEY_name", "watched")
            .output()
            .unwrap()
    };
    let failed = monitor(&host);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    assert!(
        text(&failed.stderr).contains("ocf-exit-reason:container 'watched': the storage under"),
        "{}",
        text(&failed.stderr)
    );
    shared.storage.release();
    wait_until(
        Duration::from_secs(5),
        "the storage to show as healthy",
        || host.status("watched").1["storage"]["health"] == "healthy",
    );
    assert_eq!(monitor(&host).status.code(), Some(0), "healthy again");
    host.ok(&["stop", "watched"]);
    host.assert_nothing_left("watched", &shared.root);
}

#[test]
fn fence_cuts_the_container_links_first() {
    let host = Host::new("fence-links");
    let root = busybox_root();
    host.config("linked", &root, "");
    host.ok(&["start", "linked"]);
    let init = host.init_pid("linked").to_string();
    let ip = |args: &[&str]| {
        let output = std::process::Command::new("ip")
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ip {args:?}: {}",
            text(&output.stderr)
        );
    };
    // A veth pair with one end inside the container, up on both sides.
    ip(&[
        "link",
        "add",
        "vrtfence-h",
        "type",
        "veth",
        "peer",
        "name",
        "vrtfence-c",
    ]);
    ip(&["link", "set", "vrtfence-c", "netns", &init]);
    ip(&["link", "set", "vrtfence-h", "up"]);
    let inside = std::process::Command::new("nsenter")
        .args(["-t", &init, "-n", "ip", "link", "set", "vrtfence-c", "up"])
        .status()
        .unwrap();
    assert!(inside.success());

    let output = host.vroot(&["fence", "linked", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["links_cut"],
        serde_json::json!(["vrtfence-c"]),
        "{report}"
    );
    assert_eq!(report["links_not_cut"], serde_json::json!([]));
    // The container's namespace is gone, and its veth pair with it (the
    // kernel destroys a dead namespace's links from a work queue).
    wait_until(Duration::from_secs(5), "the veth pair to go", || {
        !std::path::Path::new("/sys/class/net/vrtfence-h").exists()
    });
    host.ok(&["unfence", "linked"]);
    host.assert_nothing_left("linked", &root);
}
