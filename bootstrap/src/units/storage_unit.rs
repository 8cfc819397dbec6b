//! `vroot-storage.service`: mounts the shared storage at boot, unmounts it
//! at shutdown after every container has stopped.

use std::path::Path;
use std::time::Duration;

use crate::storage::StorageConfig;

use super::exec_line::{exec_path, text};

pub const STORAGE_UNIT: &str = "vroot-storage.service";

/// Slack for systemd's own limits beyond vroot's deadlines, so that when
/// storage fails, vroot's clearer error is what ends up in the journal.
const MARGIN: Duration = Duration::from_secs(30);

/// Who wrote the unit, for its header comment.
enum Origin<'a> {
    /// `vroot install-units`, fitted to this storage config.
    Host(&'a Path),
    /// The Debian package, for any storage config.
    Package,
}

pub(crate) fn render(binary: &Path, storage: &StorageConfig) -> String {
    let subject = match &storage.source {
        Some(source) => format!("{} {source}", storage.storage_type),
        None => storage.storage_type.to_string(),
    };
    let description = format!(
        "vroot shared storage ({subject}) at {}",
        storage.target.display()
    );
    render_with(
        binary,
        storage,
        &description,
        storage.storage_type.is_network(),
        Origin::Host(&storage.origin),
    )
}

/// The package's unit: it cannot know the host's storage.toml, so it takes
/// the default deadlines and waits for the network (which costs nothing
/// without a wait-online service). `vroot install-units` writes a fitted
/// unit to /etc/systemd/system, which takes precedence.
pub(crate) fn render_packaged(binary: &Path) -> String {
    let defaults = StorageConfig::local_default(Path::new("/etc/vroot/storage.toml"));
    render_with(
        binary,
        &defaults,
        "vroot shared storage (/etc/vroot/storage.toml)",
        true,
        Origin::Package,
    )
}

fn render_with(
    binary: &Path,
    storage: &StorageConfig,
    description: &str,
    network: bool,
    origin: Origin,
) -> String {
    let binary = exec_path(binary);
    let description = text(description);
    // `storage mount` may take: creating the target and the final probe
    // (probe_timeout each), the attempts (mount_timeout), and unmounting a
    // wrong filesystem again (probe_timeout).
    let start_timeout = storage.mount_timeout + storage.probe_timeout * 3 + MARGIN;
    // `storage umount` waits for umount2 up to mount_timeout.
    let stop_timeout = storage.mount_timeout + MARGIN;
    let ordering = if network {
        "\
# The storage is on the network (for gfs2/ocfs2: the cluster stack runs
# over it): the first mount attempt waits for network-online.target. This
# only waits if a wait-online service is enabled (systemd-networkd-wait-online,
# NetworkManager-wait-online, or ifupdown's networking.service). Because
# shutdown runs in reverse order, it also keeps the network up until the
# storage is unmounted.
Wants=network-online.target
After=network-online.target
# Like a _netdev mount in fstab: services ordered after remote-fs.target
# (and anything that needs the remote filesystems) see the storage.
Before=remote-fs.target
"
    } else {
        "\
# Local or virtio storage: no network needed. The default dependencies
# already order this after local-fs.target (through basic.target).
"
    };
    format!(
        "\
# {STORAGE_UNIT}, {written}. Mounts the shared storage that holds
# every container root.
#
# Every vroot@NAME.service has Requires= and After= on this unit: at boot
# a container starts only once the storage is mounted and verified, and at
# shutdown (or `systemctl stop {STORAGE_UNIT}`) systemd stops units
# in the reverse order, so every container stops before ExecStop= unmounts.
#
# Default dependencies stay on: after basic.target at boot, and stopped
# before shutdown.target (Conflicts=shutdown.target), while the network and
# the local filesystems are still there.

[Unit]
Description={description}
{ordering}
[Service]
Type=oneshot
# The mount outlives the command: the unit stays \"active\" until stopped,
# and stopping it runs ExecStop=.
RemainAfterExit=yes
ExecStart={binary} storage mount
ExecStop={binary} storage umount
# vroot gives up on its own after mount_timeout ({mount}s) and the probes
# (probe_timeout {probe}s); these limits are later on purpose.
TimeoutStartSec={start}
TimeoutStopSec={stop}

[Install]
WantedBy=multi-user.target
",
        written = match origin {
            Origin::Host(path) => format!(
                "written by `vroot install-units`: run that again\n# after changing {}",
                path.display()
            ),
            Origin::Package => "installed by the vroot package: `vroot install-units`\n\
                # writes one fitted to /etc/vroot/storage.toml into /etc/systemd/system,\n\
                # which takes precedence"
                .to_string(),
        },
        mount = storage.mount_timeout.as_secs(),
        probe = storage.probe_timeout.as_secs(),
        start = start_timeout.as_secs(),
        stop = stop_timeout.as_secs(),
    )
}
