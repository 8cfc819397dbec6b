//! The cluster agents live in this binary: installed under their Debian
//! names (links to it), it behaves as `fence_vroot` or as the OCF resource
//! agent `ocf:vroot:container`. Nothing they run comes from the shared root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vroot_bootstrap::agents::{run_fence_agent, run_ocf_agent, LocalContainers};
use vroot_runtime::paths::HostPaths;

pub const FENCE_AGENT_PATH: &str = "usr/sbin/fence_vroot";
pub const OCF_AGENT_PATH: &str = "usr/lib/ocf/resource.d/vroot/container";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Fence,
    Ocf,
}

impl Agent {
    /// Which agent a program name (argv[0]) asks for, if any.
    pub fn from_program_name(argv0: &str) -> Option<Self> {
        let path = Path::new(argv0);
        if path.file_name().is_some_and(|name| name == "fence_vroot") {
            return Some(Agent::Fence);
        }
        let provider = path.parent()?;
        let in_resource_d = provider.file_name().is_some_and(|name| name == "vroot")
            && provider
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|name| name == "resource.d");
        in_resource_d.then_some(Agent::Ocf)
    }
}

pub fn run(agent: Agent, args: Vec<String>, paths: &HostPaths) -> ExitCode {
    let control = LocalContainers {
        paths: paths.clone(),
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    let code = match agent {
        Agent::Fence => {
            let mut stdin = std::io::stdin().lock();
            run_fence_agent(&args, &mut stdin, &control, &mut out, &mut err)
        }
        Agent::Ocf => {
            let env: BTreeMap<String, String> = std::env::vars().collect();
            run_ocf_agent(&args, &env, &control, &mut out, &mut err)
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Links both agents to `binary` below `root`; returns the links made.
pub fn install(root: &Path, binary: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut made = Vec::new();
    for relative in [FENCE_AGENT_PATH, OCF_AGENT_PATH] {
        let link = root.join(relative);
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let temporary = link.with_extension("vroot-new");
        let _ = std::fs::remove_file(&temporary);
        std::os::unix::fs::symlink(binary, &temporary)?;
        std::fs::rename(&temporary, &link)?;
        made.push(link);
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_are_recognised_by_their_installed_names() {
        assert_eq!(
            Agent::from_program_name("/usr/sbin/fence_vroot"),
            Some(Agent::Fence)
        );
        assert_eq!(Agent::from_program_name("fence_vroot"), Some(Agent::Fence));
        assert_eq!(
            Agent::from_program_name("/usr/lib/ocf/resource.d/vroot/container"),
            Some(Agent::Ocf)
        );
        assert_eq!(Agent::from_program_name("/usr/sbin/vroot"), None);
        assert_eq!(Agent::from_program_name("/opt/other/container"), None);
    }
}
