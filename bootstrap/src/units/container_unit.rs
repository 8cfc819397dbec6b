//! `vroot@.service`: one instance per container; `vroot@web.service` runs
//! the container configured in `/etc/vroot/web.toml`.

use std::path::Path;

use super::exec_line::exec_path;
use super::storage_unit::STORAGE_UNIT;

pub const CONTAINER_UNIT: &str = "vroot@.service";

/// `vroot start` exits with this when the container is fenced: restarting
/// it would only be refused again, and a fenced node must stay down until
/// an admin clears the fence.
pub const EXIT_FENCED: u8 = 6;

/// How long systemd lets `vroot stop` run. It covers the container's default
/// stop_timeout (60 s) plus the kill that follows it; containers with a
/// longer stop_timeout want a drop-in with a larger TimeoutStopSec=.
const STOP_TIMEOUT_SECS: u64 = 90;

pub(crate) fn render(binary: &Path) -> String {
    let binary = exec_path(binary);
    format!(
        "\
# {CONTAINER_UNIT}, written by `vroot install-units`. One instance per
# container: `systemctl enable --now vroot@NAME.service` runs the container
# configured in /etc/vroot/NAME.toml at every boot.
#
# Requires= and After= on {STORAGE_UNIT}: at boot the container
# starts only once the shared storage that holds its root is mounted and
# verified (if the mount fails, the container is not started on an empty
# directory); at shutdown systemd stops units in the reverse order, so the
# container stops before the storage is unmounted. Stopping
# {STORAGE_UNIT} stops every container first.
#
# There is no vroot.target: {STORAGE_UNIT} already is the handle
# for \"all containers\" (stopping it stops them), and
# `systemctl stop 'vroot@*'` stops them all but leaves the storage mounted.

[Unit]
Description=vroot container %i
Requires={STORAGE_UNIT}
After={STORAGE_UNIT}

[Service]
# The supervisor runs in the foreground as the main process; the unit is
# active while the container runs.
Type=exec
ExecStart={binary} start --foreground %i
# A clean poweroff, then a kill after the container's stop_timeout. The
# leading `-`: systemd also runs this when the container has already
# stopped by itself, and then `vroot stop` rightly says \"not running\".
ExecStop=-{binary} stop %i
TimeoutStopSec={STOP_TIMEOUT_SECS}
# The container's processes live in a cgroup of their own outside this
# unit, so systemd's kill never reaches them: the supervisor stops them.
# mixed: SIGTERM goes to the supervisor alone (which then stops the
# container cleanly, should ExecStop= have failed); the final SIGKILL goes
# to anything left in the unit's own cgroup.
KillMode=mixed
# Init crashes and the like restart the container; a fenced container
# (exit status {EXIT_FENCED}) is refused by `vroot start`, so it is not retried.
Restart=on-failure
RestartSec=5
RestartPreventExitStatus={EXIT_FENCED}

[Install]
WantedBy=multi-user.target
"
    )
}
