//! OCI mount options split into mount(2) flags and filesystem data.

use nix::mount::MsFlags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    pub data: String,
    pub bind: bool,
    /// Sources lie in the per-host layer and are opened beneath it.
    pub in_layer: bool,
    /// overlayfs `upperdir=` and `workdir=`, kept apart from the data: the
    /// init passes the directories to the kernel as opened fds.
    pub upperdir: Option<std::path::PathBuf>,
    pub workdir: Option<std::path::PathBuf>,
}

pub fn parse(options: &[String]) -> MountOptions {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    let mut bind = false;
    let mut in_layer = false;
    let mut upperdir = None;
    let mut workdir = None;
    for option in options {
        match option.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "bind" => bind = true,
            "rbind" => {
                bind = true;
                flags |= MsFlags::MS_REC;
            }
            crate::spec::LAYER_MOUNT => in_layer = true,
            other => {
                if let Some(dir) = other.strip_prefix("upperdir=") {
                    upperdir = Some(dir.into());
                } else if let Some(dir) = other.strip_prefix("workdir=") {
                    workdir = Some(dir.into());
                } else {
                    data.push(other)
                }
            }
        }
    }
    MountOptions {
        flags,
        data: data.join(","),
        bind,
        in_layer,
        upperdir,
        workdir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flags_from_data() {
        let options: Vec<String> = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "ro"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let parsed = parse(&options);
        assert_eq!(
            parsed.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(parsed.data, "newinstance,ptmxmode=0666");
        assert!(!parsed.bind);
        assert!(parse(&["rbind".to_string()]).bind);
    }
}
