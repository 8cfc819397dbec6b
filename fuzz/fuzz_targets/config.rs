//! The container config parser, `ContainerConfig::parse`, on arbitrary text.
//!
//! Each input is read twice:
//! - whole, as `/etc/vroot/web.toml` on host `host1`: the seeds are plain
//!   config files, so the fuzzer starts from real TOML;
//! - split at its first newline: the first line is `NAME [HOSTNAME]` (the
//!   container name, the file's stem, and the host's hostname that is the
//!   default for `hostname`), the rest the file, so that the name and the
//!   hostname checks are fuzzed too.
//!
//! A parse must never panic, whatever the text; an accepted config must
//! hold what `parse` promises, and every error must display.

#![no_main]

use std::path::{Path, PathBuf};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vroot_runtime::config::{validate_name, ContainerConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    check("web", Path::new("/etc/vroot/web.toml"), text, "host1");
    if let Some((head, rest)) = text.split_once('\n') {
        let (name, hostname) = head.split_once(' ').unwrap_or((head, "host1"));
        let path = PathBuf::from("/etc/vroot").join(format!("{name}.toml"));
        check(name, &path, rest, hostname);
    }
});

fn check(name: &str, path: &Path, text: &str, default_hostname: &str) {
    match ContainerConfig::parse(name, path, text, default_hostname) {
        Ok(config) => {
            assert_eq!(config.name, name);
            assert!(
                validate_name(&config.name).is_ok(),
                "accepted name {name:?}"
            );
            assert_eq!(config.source, path);
            assert!(config.root.is_absolute(), "accepted root {:?}", config.root);
            let program = config.init.first().expect("accepted an empty init");
            assert!(program.starts_with('/'), "accepted init {program:?}");
            assert!(
                !config.init.iter().any(|arg| arg.contains('\0')),
                "accepted a NUL in init {:?}",
                config.init
            );
            assert!(
                config.stop_timeout <= Duration::from_secs(24 * 3600),
                "accepted stop_timeout {:?}",
                config.stop_timeout
            );
            if let Some(cpus) = config.limits.cpus {
                assert!(cpus.is_finite() && cpus >= 0.01, "accepted cpus {cpus}");
            }
            if let Some(pids) = config.limits.pids {
                assert!(pids >= 1, "accepted pids {pids}");
            }
            // What `vroot spec` and the logs print of it.
            let _ = format!("{config:?}");
        }
        Err(error) => {
            let _ = error.to_string();
            let _ = format!("{error:?}");
        }
    }
}
