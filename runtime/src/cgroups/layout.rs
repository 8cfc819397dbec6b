//! Which cgroup hierarchies the host has, read from mountinfo: pure cgroup v2,
//! or v1 controllers with (usually) cgroup2 beside them at `.../unified`.

use std::path::PathBuf;

use crate::mountinfo::MountEntry;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mount_point: PathBuf,
    /// Controllers and named hierarchies, e.g. `["cpu", "cpuacct"]` or `["name=systemd"]`.
    pub controllers: Vec<String>,
}

impl V1Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory name the kernel and systemd use, e.g. `cpu,cpuacct` or `systemd`.
    pub fn dir_name(&self) -> String {
        match self.controllers.as_slice() {
            [single] => single.strip_prefix("name=").unwrap_or(single).to_string(),
            many => many.join(","),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup v2 only, mounted at `mount_point` (normally `/sys/fs/cgroup`).
    Unified { mount_point: PathBuf },
    /// v1 hierarchies, and the cgroup2 hierarchy if the host mounts one.
    Hybrid {
        v1: Vec<V1Hierarchy>,
        unified: Option<PathBuf>,
    },
}

impl CgroupLayout {
    /// `known_controllers` are the names in `/proc/cgroups`; any other super
    /// option of a v1 mount (`rw`, `xattr`, …) is not a controller.
    pub fn detect(mounts: &[MountEntry], known_controllers: &[String]) -> Option<Self> {
        let hierarchy_roots = mounts.iter().filter(|m| m.root.as_os_str() == "/");
        let mut v1 = Vec::new();
        let mut unified = None;
        for mount in hierarchy_roots {
            match mount.fs_type.as_str() {
                "cgroup2" if unified.is_none() => unified = Some(mount.mount_point.clone()),
                "cgroup" => {
                    let controllers: Vec<String> = mount
                        .super_options
                        .iter()
                        .filter(|option| {
                            option.starts_with("name=") || known_controllers.contains(option)
                        })
                        .cloned()
                        .collect();
                    let duplicate = v1
                        .iter()
                        .any(|h: &V1Hierarchy| h.controllers == controllers);
                    if !controllers.is_empty() && !duplicate {
                        v1.push(V1Hierarchy {
                            mount_point: mount.mount_point.clone(),
                            controllers,
                        });
                    }
                }
                _ => {}
            }
        }
        match (v1.is_empty(), unified) {
            (true, Some(mount_point)) => Some(CgroupLayout::Unified { mount_point }),
            (true, None) => None,
            (false, unified) => Some(CgroupLayout::Hybrid { v1, unified }),
        }
    }

    /// Reads the layout of the calling process's mount namespace.
    pub fn read_host() -> Option<Self> {
        let mounts = crate::mountinfo::read_own().ok()?;
        let known: Vec<String> = std::fs::read_to_string("/proc/cgroups")
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_whitespace().next().map(str::to_string))
            .collect();
        Self::detect(&mounts, &known)
    }

    /// The cgroup2 hierarchy, wherever it is mounted.
    pub fn v2_mount(&self) -> Option<&PathBuf> {
        match self {
            CgroupLayout::Unified { mount_point } => Some(mount_point),
            CgroupLayout::Hybrid { unified, .. } => unified.as_ref(),
        }
    }

    pub fn v1_hierarchies(&self) -> &[V1Hierarchy] {
        match self {
            CgroupLayout::Unified { .. } => &[],
            CgroupLayout::Hybrid { v1, .. } => v1,
        }
    }

    pub fn is_unified(&self) -> bool {
        matches!(self, CgroupLayout::Unified { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountinfo::parse;

    fn known() -> Vec<String> {
        [
            "cpu", "cpuacct", "memory", "pids", "freezer", "devices", "cpuset", "blkio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    #[test]
    fn detects_this_projects_hybrid_hosts() {
        let text = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let layout = CgroupLayout::detect(&parse(text), &known()).unwrap();
        let CgroupLayout::Hybrid { v1, unified } = &layout else {
            panic!("{layout:?}")
        };
        assert_eq!(
            unified.as_deref(),
            Some(std::path::Path::new("/sys/fs/cgroup/unified"))
        );
        assert_eq!(v1.len(), 3);
        assert_eq!(v1[2].controllers, vec!["name=systemd"]);
        assert_eq!(v1[2].dir_name(), "systemd");
    }

    #[test]
    fn detects_joint_controllers() {
        let text = "31 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let layout = CgroupLayout::detect(&parse(text), &known()).unwrap();
        assert_eq!(layout.v1_hierarchies()[0].dir_name(), "cpu,cpuacct");
    }

    #[test]
    fn detects_pure_v2() {
        let text = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            CgroupLayout::detect(&parse(text), &known()),
            Some(CgroupLayout::Unified {
                mount_point: "/sys/fs/cgroup".into()
            })
        );
    }

    #[test]
    fn ignores_bind_mounts_of_sub_cgroups() {
        let text = "30 25 0:26 /vroot/x /mnt/x rw - cgroup2 cgroup2 rw\n";
        assert_eq!(CgroupLayout::detect(&parse(text), &known()), None);
    }
}
