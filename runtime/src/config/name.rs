//! Container names: they become file names, cgroup names and log names, so
//! they are kept to a safe alphabet.

const MAX_NAME_LEN: usize = 64;

/// The name becomes a cgroup directory next to the cgroup's control files:
/// these would collide (`tasks`, `cgroup.procs`, `memory.max`, …).
const CGROUP_FILE_NAMES: &[&str] = &["tasks", "notify_on_release", "release_agent"];
const CGROUP_FILE_PREFIXES: &[&str] = &[
    "cgroup",
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "io",
    "irq",
];

/// Host-level files in the config directory beside `NAME.toml`: a container
/// of that name would collide with them.
const RESERVED_NAMES: &[&str] = &["storage"];

/// Checks a container name; the error text says what is wrong with it.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("the name is longer than {MAX_NAME_LEN} characters"));
    }
    if name == "." || name == ".." {
        return Err("`.` and `..` are not names".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "the character {bad:?} is not allowed (use letters, digits, `-`, `_` and `.`)"
        ));
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err("the name must start with a letter, digit or `_`".into());
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(format!(
            "`{name}` is reserved: {name}.toml configures the host (choose another name)"
        ));
    }
    let prefix = name.split('.').next().unwrap_or_default();
    if CGROUP_FILE_NAMES.contains(&name)
        || (name.contains('.') && CGROUP_FILE_PREFIXES.contains(&prefix))
    {
        return Err(format!(
            "`{name}` is the name of a cgroup control file (choose another name)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn accepts_the_documented_alphabet() {
        for name in ["web", "node-1", "db_2", "a.b", "X9", "_x"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn rejects_paths_and_odd_characters() {
        for name in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "é",
            ".hidden",
            "-x",
            &"x".repeat(65),
        ] {
            assert!(validate_name(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn the_host_storage_config_is_not_a_container() {
        let reason = validate_name("storage").unwrap_err();
        assert!(reason.contains("storage.toml"), "{reason}");
    }
}
