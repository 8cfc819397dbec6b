//! Every key of vroot's two config files, with its type, default and
//! meaning: the source of vroot.toml(5). The parsers live in the library
//! crates; the tests below hold this table against them, so that a key
//! added there fails the build until it is documented here.

/// Which file a section belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFile {
    /// `/etc/vroot/NAME.toml`, one per container.
    Container,
    /// `/etc/vroot/storage.toml`, one per host.
    Storage,
}

/// One key of a table.
#[derive(Debug)]
pub struct Key {
    pub name: &'static str,
    /// The TOML type, or the values it takes.
    pub kind: &'static str,
    /// What applies when the key is absent; "required" when it must be set.
    pub default: &'static str,
    pub meaning: &'static str,
}

/// What a table may hold.
#[derive(Debug)]
pub enum Keys {
    /// These keys and no others (the parser refuses unknown keys).
    Fixed(&'static [Key]),
    /// The keys of the section with this `table`.
    SameAs(&'static str),
    /// Any key; this one describes them all.
    Any(Key),
}

/// One table of a config file.
#[derive(Debug)]
pub struct Section {
    pub file: ConfigFile,
    /// The table's dotted name; empty for the file's top level.
    pub table: &'static str,
    /// An array of tables (`[[...]]`).
    pub array: bool,
    pub about: &'static str,
    pub keys: Keys,
}

impl Section {
    /// How the table is written in the file: `[limits]`, `[[overlay.path]]`,
    /// or "top level".
    pub fn heading(&self) -> String {
        match (self.table, self.array) {
            ("", _) => "top level".to_string(),
            (table, true) => format!("[[{table}]]"),
            (table, false) => format!("[{table}]"),
        }
    }

    /// The keys, with `SameAs` followed (tests: the keys as the parser sees them).
    #[cfg(test)]
    pub fn fixed_keys(&self) -> Option<&'static [Key]> {
        match &self.keys {
            Keys::Fixed(keys) => Some(keys),
            Keys::SameAs(table) => SECTIONS
                .iter()
                .find(|section| section.file == self.file && section.table == *table)
                .and_then(Section::fixed_keys),
            Keys::Any(_) => None,
        }
    }

    /// Tables written inside this one (`network.interface` in `network`):
    /// keys of this table in the parser's eyes, documented as sections.
    #[cfg(test)]
    pub fn child_tables(&self) -> impl Iterator<Item = &'static str> + '_ {
        SECTIONS
            .iter()
            .filter(move |other| other.file == self.file && other.table != self.table)
            .filter_map(move |other| {
                let rest = match self.table {
                    "" => other.table,
                    parent => other.table.strip_prefix(parent)?.strip_prefix('.')?,
                };
                (!rest.contains('.')).then_some(rest)
            })
    }
}

const fn key(
    name: &'static str,
    kind: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> Key {
    Key {
        name,
        kind,
        default,
        meaning,
    }
}

const SECONDS: &str = "integer (seconds)";
const PATHS: &str = "array of paths";
const STRINGS: &str = "array of strings";

/// The keys of one network interface: `[network]` itself and each
/// `[[network.interface]]`.
const INTERFACE_KEYS: &[Key] = &[
    key("mode", "\"none\", \"veth\", \"macvlan\", \"ipvlan\" or \"phys\"", "\"none\" in [network]; required in [[network.interface]]",
        "What the container gets: one end of a veth pair, a macvlan or ipvlan on a host link, or a host device lent to it. none: no interface."),
    key("name", "string", "the first free ethN",
        "The interface's name inside the container (not lo, not starting with vroot-)."),
    key("bridge", "string", "none",
        "veth: attach the host side to this existing Linux bridge."),
    key("host_name", "string", "vr-NAME-N",
        "veth: the host side's name; N is the interface's place in the config."),
    key("parent", "string", "required for macvlan and ipvlan",
        "macvlan, ipvlan: the host link the interface sits on."),
    key("macvlan_mode", "\"bridge\", \"private\", \"vepa\" or \"passthru\"", "\"bridge\"",
        "macvlan: how it talks to its siblings on the parent."),
    key("ipvlan_mode", "\"l2\", \"l3\" or \"l3s\"", "\"l2\"",
        "ipvlan: the layer at which it shares its parent."),
    key("device", "string", "required for phys",
        "phys: the host device lent to the container, given back when it stops; it must be free on the host."),
    key("address", "string or array of strings", "none",
        "Addresses with their prefix, e.g. \"192.0.2.11/24\" or [\"192.0.2.11/24\", \"fd00::11/64\"]."),
    key("gateway", "string", "none",
        "The default route's gateway; it must lie in one of the interface's networks (or be IPv6 link-local). One per address family."),
    key("mac", "string", "a stable MAC from the machine id",
        "veth, macvlan: the MAC inside; the default is locally administered and stays across restarts."),
    key("mtu", "integer (68 to 65535)", "the kernel's",
        "The link's MTU."),
    key("ip_config", "\"vroot\" or \"init\"", "\"vroot\"",
        "vroot: vroot sets the link up with its addresses and route before the init runs. init: the link is created down and the container's init configures it."),
];

/// Every table of both files, in the order the man page shows them.
pub const SECTIONS: &[Section] = &[
    Section {
        file: ConfigFile::Container,
        table: "",
        array: false,
        about: "The container itself.",
        keys: Keys::Fixed(&[
            key("root", "string (absolute path)", "required",
                "The container's shared root: a directory holding a Linux root filesystem, typically below /vz/private."),
            key("init", STRINGS, "[\"/sbin/init\"]",
                "The init program, an absolute path inside the root, and its arguments."),
            key("hostname", "string", "this host's hostname",
                "The container's hostname."),
            key("stop_timeout", SECONDS, "60",
                "How long a stop waits for a clean poweroff before it kills everything (at most 86400)."),
            key("halt_signal", "string", "chosen for the running init",
                "The signal that asks the init to power off, e.g. \"SIGRTMIN+4\"; by default vroot reads the init's signal masks and picks what it understands."),
            key("on_reboot", "\"restart\" or \"stop\"", "\"restart\"",
                "What a reboot typed inside the container does: restart it on the same supervisor, or power it off."),
        ]),
    },
    Section {
        file: ConfigFile::Container,
        table: "limits",
        array: false,
        about: "Resource limits, written into the container's cgroup on the host side, out of its reach.",
        keys: Keys::Fixed(&[
            key("memory", "integer (bytes) or string", "no limit",
                "Memory limit: bytes, or a size with a 1024-based K, M, G or T suffix, e.g. \"2G\"."),
            key("cpus", "float", "no limit",
                "CPU time, in CPUs, e.g. 1.5 (at least 0.01)."),
            key("pids", "integer", "no limit",
                "The most tasks the container may have (at least 1)."),
        ]),
    },
    Section {
        file: ConfigFile::Container,
        table: "network",
        array: false,
        about: "The container's network interfaces besides lo. Without [network] it has only lo. One interface is written directly in [network], more as [[network.interface]] tables.",
        keys: Keys::Fixed(INTERFACE_KEYS),
    },
    Section {
        file: ConfigFile::Container,
        table: "network.interface",
        array: true,
        about: "One more interface each; mode is required. Names inside the container must differ.",
        keys: Keys::SameAs("network"),
    },
    Section {
        file: ConfigFile::Container,
        table: "overlay",
        array: false,
        about: "The container's per-host layer: what differs between the nodes that share the root (machine-id, hostname, ssh host keys, logs, ...). vroot overlay status NAME lists its entries.",
        keys: Keys::Fixed(&[
            key("dir", "string (absolute path)", "/var/lib/vroot/hosts/NAME",
                "The layer's directory on this host's own disk (VROOT_LIB_DIR moves the default); vroot refuses one on the shared filesystem."),
            key("mode", "\"bind\" or \"overlayfs\"", "\"bind\"",
                "bind: per-host entries are mounted over the shared root. overlayfs: the shared root is the read-only lower layer and every write the container makes is per-host."),
            key("defaults", "boolean", "true",
                "Apply vroot's built-in per-host entries; false: only those of [[overlay.path]] (shared paths stay protected)."),
        ]),
    },
    Section {
        file: ConfigFile::Container,
        table: "overlay.vars",
        array: false,
        about: "Extra variables for the templates of gen entries.",
        keys: Keys::Any(key("NAME", "string", "none",
            "A variable {{ NAME }}: lowercase letters, digits and _, starting with a letter; not one of vroot's own (name, hostname, machine_id, container_uuid, host_name, host_kernel, host_arch, host_addresses).")),
    },
    Section {
        file: ConfigFile::Container,
        table: "overlay.path",
        array: true,
        about: "One per-host (or shared) path each: adds an entry, changes a built-in one, or switches it off with mode = \"shared\".",
        keys: Keys::Fixed(&[
            key("path", "string (absolute path)", "required",
                "The path inside the container; a trailing * matches the names in a directory (secret, seed and shared entries only). Not below /proc, /sys, /dev or /run."),
            key("mode", "\"gen\", \"secret\", \"seed\", \"skel\", \"empty\", \"tmp\" or \"shared\"", "required",
                "gen: rendered from a template at every start. secret: generated once per host. seed: copied from the shared root once. skel: the directory tree without files. empty: starts empty. tmp: a tmpfs at every boot. shared: never overlaid."),
            key("template", "string (path)", "none; required for gen",
                "gen: the template, relative to the config's directory. /etc/machine-id and /etc/hostname need none."),
            key("on_missing", "\"copy-default\", \"create\" or \"fail\"", "\"fail\"",
                "What to do when there is nothing to take the content from (a missing template, a seed's missing original, a secret vroot cannot generate): use the shared copy, create it empty, or refuse to start."),
        ]),
    },
    Section {
        file: ConfigFile::Container,
        table: "fence",
        array: false,
        about: "What the supervisor's storage watchdog does when the container's storage stops answering.",
        keys: Keys::Fixed(&[
            key("on_hang", "\"none\" or \"fence\"", "\"none\"",
                "none: report it (vroot status, the resource agent's monitor) and wait. fence: fence the container at once, as vroot fence does."),
            key("hang_timeout", SECONDS, "10",
                "A storage probe outstanding this long means the storage is hung (1 to 3600)."),
            key("restart_on_recovery", "boolean", "false",
                "Start the container again once the storage answers after a watchdog fence; needs on_hang = \"fence\"."),
        ]),
    },
    Section {
        file: ConfigFile::Container,
        table: "security",
        array: false,
        about: "The container's confinement. Each key starts from a documented default; a key that relaxes one takes away part of what keeps the host out of the container's reach.",
        keys: Keys::Fixed(&[
            key("seccomp", "boolean", "true",
                "The default system-call filter, which denies (EPERM) the calls that reach past the container into the host's kernel."),
            key("syscalls_allow", STRINGS, "[]",
                "Calls taken out of the filter's deny list (\"remount\" allows remounting filesystems)."),
            key("syscalls_deny", STRINGS, "[]",
                "More calls the filter denies."),
            key("capabilities_add", STRINGS, "[]",
                "Capabilities on top of the default set, named as in capabilities(7), with or without CAP_."),
            key("capabilities_drop", STRINGS, "[]",
                "Capabilities taken out of the default set."),
            key("devices", PATHS, "[]",
                "Host device nodes below /dev passed through, e.g. \"/dev/fuse\"; each is made inside with the host's numbers and mode."),
            key("mask", PATHS, "[]",
                "More host paths hidden from the container."),
            key("unmask", PATHS, "[]",
                "Paths hidden by default (/proc/kcore, /proc/keys, ...) shown after all."),
            key("readonly", PATHS, "[]",
                "More paths made read-only."),
            key("writable", PATHS, "[]",
                "Paths read-only by default (/proc/sys, ...) made writable."),
            key("userns", "boolean", "false",
                "Run the container in a user namespace: its ids 0... are the host's userns_base...; the shared root must be shifted first (vroot userns shift)."),
            key("userns_base", "integer", "100000",
                "The host id of the container's id 0; the same on every node that shares the root. At least userns_size."),
            key("userns_size", "integer", "65536",
                "How many ids the namespace maps (65536 includes nobody)."),
        ]),
    },
    Section {
        file: ConfigFile::Storage,
        table: "",
        array: false,
        about: "Only the [storage] table. Without the file the storage is local: /vz/private is a directory on the host's own disk.",
        keys: Keys::Fixed(&[]),
    },
    Section {
        file: ConfigFile::Storage,
        table: "storage",
        array: false,
        about: "The shared storage this host mounts for the containers' roots.",
        keys: Keys::Fixed(&[
            key("type", "\"nfs\", \"glusterfs\", \"cephfs\", \"cifs\", \"9p\", \"virtiofs\", \"gfs2\", \"ocfs2\" or \"local\"", "required",
                "The filesystem; vroot storage mount checks that the mounted one has this type. local: a directory on the host."),
            key("source", "string", "required but for local",
                "What to mount: server:/export for nfs (an IP address, or set helper), addr:port:/path for cephfs, the mount tag for 9p and virtiofs, the block device for gfs2 and ocfs2. local: an optional directory bind-mounted onto the target."),
            key("target", "string (absolute path)", "/vz/private",
                "Where the storage is mounted."),
            key("options", STRINGS, "[]",
                "Mount options added to the type's defaults, one per string, e.g. [\"vers=4.2\"]; not for local."),
            key("mount_timeout", SECONDS, "60",
                "The deadline for all mount attempts together (1 to 3600)."),
            key("retry_interval", SECONDS, "2",
                "The pause between mount attempts (1 to 3600)."),
            key("probe_timeout", SECONDS, "5",
                "A statfs probe slower than this means the storage is hung (1 to 3600)."),
            key("helper", "string (absolute path)", "none",
                "A host-local mount program run as HELPER SOURCE TARGET -o OPTIONS instead of mount(2), e.g. /sbin/mount.nfs for a server given by name; not for local."),
        ]),
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::time::Duration;

    use vroot_bootstrap::storage::StorageConfig;
    use vroot_runtime::config::ContainerConfig;

    use super::*;

    /// A key no parser knows.
    const PROBE: &str = "zz_undocumented_probe";

    /// The error of a file holding the probe key in `section`'s table.
    fn probe_error(section: &Section) -> String {
        let mut text = String::new();
        if section.file == ConfigFile::Container && !section.table.is_empty() {
            text.push_str("root = \"/srv/probe\"\n");
        }
        if !section.table.is_empty() {
            text.push_str(&format!("{}\n", section.heading()));
        }
        text.push_str(&format!("{PROBE} = 1\n"));
        parse(section.file, &text).expect_err(&text)
    }

    fn parse(file: ConfigFile, text: &str) -> Result<(), String> {
        match file {
            ConfigFile::Container => {
                ContainerConfig::parse("probe", Path::new("/etc/vroot/probe.toml"), text, "probe")
                    .map(drop)
                    .map_err(|error| error.to_string())
            }
            ConfigFile::Storage => {
                StorageConfig::from_toml_str(text, Path::new("/etc/vroot/storage.toml"))
                    .map(drop)
                    .map_err(|error| error.to_string())
            }
        }
    }

    /// The names in serde's "unknown field `x`, expected one of `a`, `b`"
    /// (or "expected `a`", "expected `a` or `b`"), which vroot passes on.
    fn expected_keys(error: &str) -> BTreeSet<String> {
        let unknown = format!("unknown key `{PROBE}`");
        let at = error
            .find(&unknown)
            .unwrap_or_else(|| panic!("the probe did not land in its table: {error}"));
        let rest = &error[at + unknown.len()..];
        let Some(expected) = rest.split_once("expected").map(|(_, list)| list) else {
            return BTreeSet::new(); // "there are no fields"
        };
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_key_the_parsers_know_is_documented_and_no_other() {
        for section in SECTIONS {
            let heading = format!("{:?} {}", section.file, section.heading());
            let Some(keys) = section.fixed_keys() else {
                continue;
            };
            let known = expected_keys(&probe_error(section));
            let documented: BTreeSet<String> =
                keys.iter().map(|key| key.name.to_string()).collect();
            let children: BTreeSet<String> = section.child_tables().map(str::to_string).collect();
            let undocumented: Vec<_> = known
                .iter()
                .filter(|name| !documented.contains(*name) && !children.contains(*name))
                .collect();
            assert!(
                undocumented.is_empty(),
                "{heading}: add {undocumented:?} to src/config_reference.rs"
            );
            let unknown: Vec<_> = documented.difference(&known).collect();
            assert!(
                unknown.is_empty(),
                "{heading}: the parser knows no {unknown:?}"
            );
        }
    }

    #[test]
    fn open_tables_take_any_key() {
        for section in SECTIONS {
            if let Keys::Any(_) = section.keys {
                let text = format!(
                    "root = \"/srv/probe\"\n{}\nzz_probe = \"x\"\n",
                    section.heading()
                );
                assert_eq!(parse(section.file, &text), Ok(()), "{text}");
            }
        }
    }

    #[test]
    fn every_table_and_key_is_described_once() {
        let mut headings = BTreeSet::new();
        for section in SECTIONS {
            assert!(
                headings.insert((section.file == ConfigFile::Storage, section.table)),
                "{} twice",
                section.heading()
            );
            assert!(!section.about.is_empty());
            if let Keys::SameAs(table) = section.keys {
                assert!(section.fixed_keys().is_some(), "no table {table}");
            }
            let mut names = BTreeSet::new();
            for key in section.fixed_keys().unwrap_or_default() {
                assert!(names.insert(key.name), "{} twice", key.name);
                assert!(!key.kind.is_empty() && !key.default.is_empty() && !key.meaning.is_empty());
            }
        }
    }

    fn documented_default(file: ConfigFile, table: &str, name: &str) -> &'static str {
        SECTIONS
            .iter()
            .find(|section| section.file == file && section.table == table)
            .and_then(Section::fixed_keys)
            .and_then(|keys| keys.iter().find(|key| key.name == name))
            .map(|key| key.default)
            .unwrap_or_else(|| panic!("no key {table}.{name}"))
    }

    #[test]
    fn documented_defaults_are_the_parsers() {
        let container = |table, name| documented_default(ConfigFile::Container, table, name);
        let config = ContainerConfig::parse(
            "probe",
            Path::new("/etc/vroot/probe.toml"),
            "root = \"/srv/probe\"\n[security]\nuserns = true\n",
            "probe",
        )
        .expect("a minimal config parses");
        let seconds = |duration: Duration| duration.as_secs().to_string();
        assert_eq!(
            container("", "init"),
            format!("{:?}", config.init).replace(", ", ",")
        );
        assert_eq!(container("", "stop_timeout"), seconds(config.stop_timeout));
        assert_eq!(
            container("", "on_reboot"),
            format!("\"{}\"", config.on_reboot.as_str())
        );
        assert_eq!(
            container("fence", "on_hang"),
            format!("\"{}\"", config.fence.on_hang.as_str())
        );
        assert_eq!(
            container("fence", "hang_timeout"),
            seconds(config.fence.hang_timeout)
        );
        assert_eq!(
            container("fence", "restart_on_recovery"),
            config.fence.restart_on_recovery.to_string()
        );
        let range = config.security.userns.expect("userns = true maps a range");
        assert_eq!(container("security", "userns_base"), range.base.to_string());
        assert_eq!(container("security", "userns_size"), range.size.to_string());

        let storage = |name| documented_default(ConfigFile::Storage, "storage", name);
        let config = StorageConfig::from_toml_str(
            "[storage]\ntype = \"local\"\n",
            Path::new("/etc/vroot/storage.toml"),
        )
        .expect("a minimal storage.toml parses");
        assert_eq!(storage("target"), config.target.display().to_string());
        assert_eq!(storage("mount_timeout"), seconds(config.mount_timeout));
        assert_eq!(storage("retry_interval"), seconds(config.retry_interval));
        assert_eq!(storage("probe_timeout"), seconds(config.probe_timeout));
    }
}
