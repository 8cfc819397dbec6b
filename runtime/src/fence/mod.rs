//! Fencing a container from the host's namespace: take its links away, kill its
//! cgroup, release tasks stuck on hung storage, detach its mounts, and verify
//! that nothing is left, all within a time bound. Nothing here touches the
//! shared filesystem or runs a program from it: the container is found
//! through its cgroup and procfs, and every step that could block runs in a
//! child process with a deadline.

pub mod marker;
pub mod mounts;
pub mod storage;

use std::fs::File;
use std::os::fd::OwnedFd;

use crate::network::{self, netns::Netns, NetworkRecord};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cgroups::ContainerCgroup;
use mounts::MountNamespace;
use storage::{Release, StorageMount};

/// How long killed tasks get to leave before they count as stuck.
const KILL_SETTLE: Duration = Duration::from_millis(200);
/// How long killed tasks get after each storage release before the next.
const RELEASE_INTERVAL: Duration = Duration::from_millis(250);
/// Kept back from the budget for the detach and the verification.
const FINAL_STEPS_RESERVE: Duration = Duration::from_millis(500);
/// A single step (a child with a deadline) never takes more than this.
const STEP_LIMIT: Duration = Duration::from_secs(2);

/// What to fence.
pub struct FenceTarget<'a> {
    pub name: &'a str,
    /// The container's init, if known: its namespaces are the container's.
    pub init: Option<i32>,
    /// What its current boot attached, if known (the links carry tags too).
    pub network: Option<NetworkRecord>,
    pub cgroup: &'a ContainerCgroup,
    /// The container's root on the host, to find the storage it lives on.
    pub root: Option<&'a Path>,
    /// A host-local directory the fence may use for a moment.
    pub scratch: PathBuf,
}

/// What the fence did and found, for the command's report and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FenceReport {
    /// Tasks in the cgroup when the fence began.
    pub tasks_killed: usize,
    /// Links deleted: the container's own, and their host sides.
    pub links_cut: Vec<String>,
    /// Host devices taken back from the container, by host name.
    pub links_returned: Vec<String>,
    /// What could not be done to the links, one line each.
    pub links_not_cut: Vec<String>,
    /// Storage connections aborted or force-unmounted to free stuck tasks.
    pub storage_released: Vec<String>,
    pub storage_errors: Vec<String>,
    /// How many times the storage was released before no task was left.
    pub storage_release_rounds: u32,
    /// The namespace's mount tree was detached (tasks were stuck).
    pub mounts_detached: bool,
    /// Tasks still in the cgroup at the end.
    pub tasks_left: Vec<i32>,
    /// Processes still in the container's mount namespace at the end.
    pub mount_namespace_members: Vec<i32>,
    /// The storage is a cluster filesystem: only fencing the host frees it.
    pub needs_host_fencing: bool,
    pub elapsed_ms: u64,
}

impl FenceReport {
    /// The container is off: no task and no mount of it is left.
    pub fn verified(&self) -> bool {
        self.tasks_left.is_empty() && self.mount_namespace_members.is_empty()
    }

    /// One line on what the fence did: `fenced in N ms: …`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "fenced in {} ms: {} task(s) killed",
            self.elapsed_ms, self.tasks_killed
        );
        let mut add = |label: &str, items: &[String], separator: &str| {
            if !items.is_empty() {
                line.push_str(&format!(", {label}: {}", items.join(separator)));
            }
        };
        add("links cut", &self.links_cut, " ");
        add("devices given back", &self.links_returned, " ");
        add("link problems", &self.links_not_cut, "; ");
        add("storage released", &self.storage_released, ", ");
        if self.storage_release_rounds > 1 {
            line.push_str(&format!(" ({} rounds)", self.storage_release_rounds));
        }
        if self.mounts_detached {
            line.push_str(", mounts detached");
        }
        if !self.verified() {
            line.push_str(&format!("; NOT verified: {}", self.failure()));
        }
        line
    }

    /// One line on what is left, for a failed fence.
    pub fn failure(&self) -> String {
        let mut parts = Vec::new();
        if !self.tasks_left.is_empty() {
            parts.push(format!(
                "{} task(s) still in the cgroup (pids {})",
                self.tasks_left.len(),
                list_pids(&self.tasks_left)
            ));
        }
        let outsiders: Vec<i32> = self
            .mount_namespace_members
            .iter()
            .copied()
            .filter(|pid| !self.tasks_left.contains(pid))
            .collect();
        if !outsiders.is_empty() {
            parts.push(format!(
                "processes outside the cgroup still hold the container's mounts (pids {})",
                list_pids(&outsiders)
            ));
        }
        if !self.storage_errors.is_empty() {
            parts.push(self.storage_errors.join("; "));
        }
        if self.needs_host_fencing {
            parts.push(
                "the storage is a cluster filesystem: the cluster must fence this host".into(),
            );
        }
        parts.join("; ")
    }
}

fn list_pids(pids: &[i32]) -> String {
    let shown: Vec<String> = pids.iter().take(8).map(i32::to_string).collect();
    let more = pids.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} and {more} more", shown.join(" "))
    } else {
        shown.join(" ")
    }
}

/// Handles on a live container, taken before the kill: once its tasks die,
/// `/proc/PID/ns/*` is gone.
struct Handles {
    net: Option<Netns>,
    mount: Option<OwnedFd>,
    mount_namespace: Option<MountNamespace>,
    storage: Vec<StorageMount>,
}

fn open_ns(pid: i32, kind: &str) -> Option<OwnedFd> {
    File::open(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(OwnedFd::from)
}

/// The inode of one of our own namespaces, to recognise a task that is not
/// (or not yet) in the container's: a `vroot exec` between joining the
/// cgroup and `setns`, say. Acting on our own namespace would cut the
/// host's links or detach the host's mount tree.
fn own_namespace(kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/self/ns/{kind}"))
        .ok()
        .map(|meta| std::os::unix::fs::MetadataExt::ino(&meta))
}

fn namespace_of(pid: i32, kind: &str) -> Option<u64> {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|meta| std::os::unix::fs::MetadataExt::ino(&meta))
}

/// Takes the namespaces from the container's init when it is known, and
/// otherwise from a task of the cgroup. The container owns its sub-cgroups
/// and may put there a task of namespaces of its own making, so the init
/// comes first; no task in our own namespaces is ever used.
fn take_handles(pids: &[i32], init: Option<i32>, root: Option<&Path>) -> Handles {
    let host_mounts = crate::mountinfo::read_own().unwrap_or_default();
    let (own_net, own_mnt) = (own_namespace("net"), own_namespace("mnt"));
    let candidates = init
        .into_iter()
        .filter(|pid| pids.contains(pid))
        .chain(pids.iter().copied());
    for pid in candidates {
        let (net_inode, mnt_inode) = (namespace_of(pid, "net"), namespace_of(pid, "mnt"));
        if net_inode.is_none()
            || net_inode == own_net
            || mnt_inode.is_none()
            || mnt_inode == own_mnt
        {
            continue;
        }
        let (Ok(net), Some(mount)) = (Netns::of_process(pid), open_ns(pid, "mnt")) else {
            continue;
        };
        return Handles {
            net: Some(net),
            mount: Some(mount),
            mount_namespace: MountNamespace::of(pid),
            storage: storage::storage_under(&storage::mounts_of(pid), &host_mounts, root),
        };
    }
    Handles {
        net: None,
        mount: None,
        mount_namespace: None,
        storage: storage::storage_under(&[], &host_mounts, root),
    }
}

/// Fences the container within `budget`. Never fails early: every step is
/// tried, and the report says what is left.
pub fn fence(target: &FenceTarget, budget: Duration) -> FenceReport {
    let started = Instant::now();
    let deadline = started + budget;
    let left = || deadline.saturating_duration_since(Instant::now());
    let step = |limit: Duration| left().min(limit);
    let mut report = FenceReport::default();

    let pids = target.cgroup.pids();
    report.tasks_killed = pids.len();
    let mut handles = take_handles(&pids, target.init, target.root);

    // Isolation first: a node whose tasks cannot all be killed yet must
    // already be off the network. Netlink requests answer from the kernel
    // alone, so this cannot wait on the storage. The handle is kept through
    // the kill, so that the namespace (and a device lent to it) outlives
    // the container's tasks until the second pass below.
    let mut links = network::ReleaseReport::default();
    if let Some(net) = &handles.net {
        let until = Instant::now() + step(STEP_LIMIT);
        links = network::evacuate(target.name, net, target.network.as_ref(), until);
    }

    if target.cgroup.exists() {
        let _ = target.cgroup.kill_all();
    }
    let mut empty = target.cgroup.wait_empty(step(KILL_SETTLE)).is_ok();

    // Released again and again while tasks remain: a forced unmount fails
    // only the requests in flight at that moment (nfs_umount_begin), and a
    // task waiting on writeback of many pages meets the next request for
    // its next page. An aborted FUSE connection stays aborted, so repeating
    // that costs nothing.
    let mut round = 0;
    while !empty && left() > FINAL_STEPS_RESERVE {
        for storage in &handles.storage {
            if storage.release == Release::ClusterFencing {
                report.needs_host_fencing = true;
            }
            let result = storage::release(storage, &target.scratch, step(STEP_LIMIT));
            if round == 0 {
                match result {
                    Ok(()) => report.storage_released.push(storage.to_string()),
                    Err(error) => report.storage_errors.push(error.to_string()),
                }
            }
        }
        round += 1;
        // Killed again: tasks forked between the first kill and their end
        // (a v1 freezer-less kill races with fork).
        let _ = target.cgroup.kill_all();
        let wait = left()
            .saturating_sub(FINAL_STEPS_RESERVE)
            .min(RELEASE_INTERVAL);
        empty = target.cgroup.wait_empty(wait).is_ok();
        if handles.storage.is_empty() || report.needs_host_fencing {
            // Nothing to release, or nothing vroot can release: waiting
            // out the budget is all that is left.
            let wait = left().saturating_sub(FINAL_STEPS_RESERVE);
            empty = empty || target.cgroup.wait_empty(wait).is_ok();
            break;
        }
    }
    report.storage_release_rounds = round;

    if !empty {
        if let Some(mount) = &handles.mount {
            report.mounts_detached = mounts::detach_tree(mount, step(STEP_LIMIT));
        }
    }
    // Our own handles would keep the namespace, and its mounts, alive.
    handles.mount = None;
    // A second pass: what was added or moved between the first and the kill.
    if let Some(net) = handles.net.take() {
        let until = Instant::now() + step(STEP_LIMIT);
        links.merge(network::evacuate(
            target.name,
            &net,
            target.network.as_ref(),
            until,
        ));
    }
    links.merge(network::sweep(target.name, target.network.as_ref()));
    report.links_cut = links.removed;
    report.links_returned = links.returned;
    report.links_not_cut = links.failed;
    report.tasks_left = target.cgroup.pids();
    report.mount_namespace_members = handles
        .mount_namespace
        .map(|namespace| namespace.members())
        .unwrap_or_default();
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}
