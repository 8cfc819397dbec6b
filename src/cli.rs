//! The command line: every subcommand, its arguments and its help text.
//! The man pages and shell completions are generated from these definitions.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "vroot",
    version,
    about = "Run a cluster's shared root filesystem as a system container on each host"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Start a container; returns once its init runs. Exit code 6: the
    /// container is fenced.
    Start {
        name: String,
        /// Run the supervisor in this process until the container stops
        /// (for systemd units and benchmarks). Exit code: 0 on poweroff,
        /// 128+signal when the init crashed, 6 when it was fenced.
        #[arg(long)]
        foreground: bool,
        /// Clear the fenced marker first (an explicit start after a fence).
        #[arg(long)]
        unfence: bool,
        /// Print each step and its time (on stderr).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Power a container off; kill it after the timeout.
    Stop {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        name: Option<String>,
        /// Stop every container on this host, all at once (at shutdown,
        /// before the shared storage is unmounted). Exit code: 0 when all
        /// stopped, 1 otherwise.
        #[arg(long)]
        all: bool,
        /// Seconds to wait for a clean poweroff (default: the config's stop_timeout).
        #[arg(long)]
        timeout: Option<u64>,
        /// Kill every process at once instead of asking the init to power off.
        #[arg(long)]
        kill: bool,
    },
    /// Stop a container if it runs, then start it.
    Restart {
        name: String,
        #[arg(long)]
        timeout: Option<u64>,
        /// Print each step of the start and its time (on stderr).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Show a container's state. Exit code: 0 running, 3 not running, 4 unknown.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List every configured or running container.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a command inside a running container; returns its exit code.
    Exec {
        name: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Open an interactive shell inside a running container.
    Enter { name: String },
    /// Attach to a container's console (Ctrl-] detaches).
    Console { name: String },
    /// Kill and isolate a container now, within a time bound, even with its
    /// storage hung or its supervisor dead; it stays down until unfenced.
    /// Exit code: 0 when verified off, 1 otherwise.
    Fence {
        name: String,
        /// Seconds the whole fence may take.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
        /// Recorded in the fenced marker.
        #[arg(long, default_value = "fenced by an operator")]
        reason: String,
        #[arg(long)]
        json: bool,
    },
    /// Clear a container's fenced marker so that it may start again.
    Unfence { name: String },
    /// Print the OCI runtime spec (config.json) rendered from the config.
    Spec { name: String },
    /// The host's shared storage at /vz/private, as /etc/vroot/storage.toml
    /// describes it.
    Storage {
        #[command(subcommand)]
        command: StorageCommand,
    },
    /// Write the host's systemd units: vroot-storage.service (the shared
    /// storage) and vroot@.service (one container, `start --foreground`),
    /// ordered so that the storage is up before any container starts and
    /// every container stops before the storage is unmounted.
    InstallUnits {
        #[arg(long, default_value = "/etc/systemd/system")]
        dir: std::path::PathBuf,
        /// The vroot binary the units run (default: this one).
        #[arg(long)]
        binary: Option<std::path::PathBuf>,
        /// The units as the Debian package ships them: for any storage.toml,
        /// with the default deadlines (packaging only).
        #[arg(long)]
        packaged: bool,
    },
    /// Check this host: kernel features, the shared storage, that vroot's
    /// own paths and the per-host layers are off the shared storage and on
    /// local disks, and the systemd units. Prints one line per check, with
    /// the fix for each that fails. Exit code: 0 when no check fails.
    Doctor {
        #[arg(long)]
        json: bool,
        /// Check the units in this directory (default: /etc/systemd/system,
        /// and not at all on a host without systemd).
        #[arg(long)]
        units_dir: Option<std::path::PathBuf>,
    },
    /// Link the cluster agents to this binary at their Debian paths:
    /// /usr/sbin/fence_vroot and /usr/lib/ocf/resource.d/vroot/container.
    InstallAgents {
        /// Install below this directory instead of / (for packaging).
        #[arg(long, default_value = "/")]
        root: std::path::PathBuf,
        /// The vroot binary the agents run (default: this one).
        #[arg(long)]
        binary: Option<std::path::PathBuf>,
    },
    /// The fence agent (what `fence_vroot` runs).
    #[command(hide = true)]
    FenceAgent {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The OCF resource agent (what `ocf:vroot:container` runs).
    #[command(hide = true)]
    OcfAgent {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Scan a container's shared root for host-unique content (a filled
    /// machine-id, ssh host keys, leases, this host's name or address).
    /// Exit code: 0 clean, 1 findings or error.
    Lint {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Work with a container's per-host layer (hostname, machine-id, network
    /// config, ssh host keys, logs, … of this host).
    Overlay {
        #[command(subcommand)]
        command: OverlayCommand,
    },
    /// Move a container's shared root and per-host layer into its user
    /// namespace's ids ([security] userns), or back.
    Userns {
        #[command(subcommand)]
        command: UsernsCommand,
    },
    /// Write the man pages and shell completions (for packaging).
    #[command(hide = true)]
    GenerateDocs {
        /// Written below: man/man1, man/man5 and completions.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum UsernsCommand {
    /// Owners 0.. become userns_base..: once, from one node, with the
    /// root's containers stopped on every node.
    Shift { name: String },
    /// Owners userns_base.. become 0.. again, before turning userns off.
    Unshift { name: String },
}

#[derive(Subcommand)]
pub enum StorageCommand {
    /// Mount the shared storage, with retries until its deadline, and check
    /// that the filesystem type is the expected one.
    Mount,
    /// Unmount it (stop the containers first).
    Umount {
        /// Fail pending requests first (MNT_FORCE), for a dead server.
        #[arg(long)]
        force: bool,
        /// Detach it now and release it when no longer used.
        #[arg(long)]
        lazy: bool,
    },
    /// Is it mounted, with the right type, and does it answer? Exit code: 0
    /// healthy, 1 otherwise. Answers within the probe timeout even when the
    /// storage hangs.
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum OverlayCommand {
    /// Create and fill the per-host layer (start does this too).
    Init { name: String },
    /// Every per-host entry: its mode, how it is laid over the root, where
    /// its content comes from and its state.
    Status {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Print what a `gen` entry renders to on this host.
    Render { name: String, path: String },
    /// Compare two containers' per-host layers. Exit code: 0 same, 1 different.
    Diff {
        name: String,
        other: String,
        #[arg(long)]
        json: bool,
    },
}
