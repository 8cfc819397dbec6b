use std::path::Path;

use super::*;
use vroot_overlays::config::LayerMode;

fn config(extra: &str) -> ContainerConfig {
    let text = format!("root = \"/vz/private/web\"\nhostname = \"node1\"\n{extra}");
    ContainerConfig::parse("web", Path::new("/etc/vroot/web.toml"), &text, "host1").unwrap()
}

fn env_value(spec: &Spec, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    spec.process()
        .as_ref()
        .unwrap()
        .env()
        .as_ref()
        .unwrap()
        .iter()
        .find_map(|entry| entry.strip_prefix(&prefix).map(str::to_string))
}

#[test]
fn renders_the_system_container_shape() {
    let spec = render_plain(&config(""), "host1").unwrap();
    assert_eq!(
        spec.root().as_ref().unwrap().path(),
        Path::new("/vz/private/web")
    );
    assert_eq!(spec.hostname().as_deref(), Some("node1"));
    assert_eq!(
        spec.process().as_ref().unwrap().args().as_ref().unwrap(),
        &vec!["/sbin/init".to_string()]
    );
    let namespaces: Vec<_> = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|ns| ns.typ())
        .collect();
    for wanted in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ] {
        assert!(namespaces.contains(&wanted), "{wanted:?} missing");
    }
    let destinations: Vec<_> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    for wanted in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/sys/fs/cgroup",
        "/run",
    ] {
        assert!(destinations.iter().any(|d| d == wanted), "{wanted} missing");
    }
    let sys = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new("/sys"))
        .unwrap();
    assert!(sys.options().as_ref().unwrap().contains(&"ro".to_string()));
    let masked = spec
        .linux()
        .as_ref()
        .unwrap()
        .masked_paths()
        .as_ref()
        .unwrap();
    for path in [
        "/proc/kcore",
        "/proc/keys",
        "/proc/sysrq-trigger",
        "/proc/timer_list",
        "/proc/kallsyms",
    ] {
        assert!(masked.contains(&path.to_string()), "{path} not masked");
    }
}

#[test]
fn environment_names_the_manager_and_identity() {
    let spec = render_plain(&config(""), "host1").unwrap();
    assert_eq!(env_value(&spec, "container").as_deref(), Some("vroot"));
    let uuid = env_value(&spec, "container_uuid").unwrap();
    assert_eq!(uuid.len(), 36);
    assert_eq!(uuid.replace('-', ""), machine_id("host1", "web"));
}

#[test]
fn machine_id_is_stable_and_differs_per_host_and_container() {
    assert_eq!(machine_id("host1", "web"), machine_id("host1", "web"));
    assert_ne!(machine_id("host1", "web"), machine_id("host2", "web"));
    assert_ne!(machine_id("host1", "web"), machine_id("host1", "db"));
    let id = machine_id("host1", "web");
    assert_eq!(id.len(), 32);
    assert!(id
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
}

#[test]
fn limits_become_resources() {
    let spec = render_plain(
        &config("[limits]\nmemory = \"512M\"\ncpus = 1.5\npids = 100\n"),
        "h",
    )
    .unwrap();
    let resources = spec.linux().as_ref().unwrap().resources().as_ref().unwrap();
    assert_eq!(
        resources.memory().as_ref().unwrap().limit(),
        Some(512 << 20)
    );
    let cpu = resources.cpu().as_ref().unwrap();
    assert_eq!(cpu.quota(), Some(150_000));
    assert_eq!(cpu.period(), Some(100_000));
    assert_eq!(resources.pids().as_ref().unwrap().limit(), 100);
}

#[test]
fn settings_round_trip_through_json() {
    let original = config("stop_timeout = 9\nhalt_signal = \"SIGRTMIN+3\"\non_reboot = \"stop\"\n");
    let spec = render_plain(&original, "host1").unwrap();
    let reread = from_json(&to_json(&spec).unwrap()).unwrap();
    let settings = RuntimeSettings::from_spec(&reread).unwrap();
    assert_eq!(settings.name, "web");
    assert_eq!(settings.stop_timeout, Duration::from_secs(9));
    assert_eq!(settings.halt_signal, Some(RawSignal::rt(3)));
    assert_eq!(settings.on_reboot, OnReboot::Stop);
    assert_eq!(settings.cgroup_path, "/vroot/web");
    assert_eq!(
        settings.capabilities,
        crate::capabilities::container_default()
    );
}

fn layer() -> LayerPaths {
    LayerPaths::new(Path::new("/var/lib/vroot/hosts/web"))
}

fn plan(mode: LayerMode, mounts: Vec<LayerMount>) -> Plan {
    Plan {
        mode,
        items: Vec::new(),
        shared: Vec::new(),
        mounts,
        root_work: (mode == LayerMode::Overlayfs).then(|| "root".to_string()),
    }
}

/// The spec with the identity binds every bind-mode container has.
fn render_plain(config: &ContainerConfig, host: &str) -> Result<Spec, SpecError> {
    let identity = ["/etc/hostname", "/etc/machine-id"].map(|target| LayerMount::Bind {
        target: target.to_string(),
        readonly: true,
    });
    render(
        config,
        host,
        &layer(),
        &plan(LayerMode::Bind, identity.to_vec()),
    )
}

fn mount_at<'s>(spec: &'s Spec, destination: &str) -> &'s Mount {
    spec.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new(destination))
        .unwrap_or_else(|| panic!("no mount at {destination}"))
}

#[test]
fn layer_binds_come_from_the_layer_root_marked_for_opening_beneath_it() {
    let spec = render_plain(&config(""), "host1").unwrap();
    for file in ["machine-id", "hostname"] {
        let entry = mount_at(&spec, &format!("/etc/{file}"));
        assert_eq!(
            entry.source().as_deref(),
            Some(Path::new(&format!(
                "/var/lib/vroot/hosts/web/root/etc/{file}"
            )))
        );
        let options = entry.options().as_ref().unwrap();
        assert!(options.contains(&"ro".to_string()) && options.contains(&LAYER_MOUNT.to_string()));
    }
    assert_eq!(
        spec.annotations()
            .as_ref()
            .unwrap()
            .get(ANNOTATION_LAYER)
            .map(String::as_str),
        Some("/var/lib/vroot/hosts/web/root")
    );
}

#[test]
fn parent_overlays_and_tmpfs_entries_follow_the_system_mounts() {
    let mounts = vec![
        LayerMount::ParentOverlay {
            target: "/etc/ssh".into(),
            work: "dir%etc%ssh".into(),
        },
        LayerMount::Tmpfs {
            target: "/tmp".into(),
            mode: 0o1777,
        },
    ];
    let spec = render(
        &config(""),
        "host1",
        &layer(),
        &plan(LayerMode::Bind, mounts),
    )
    .unwrap();
    let overlay = mount_at(&spec, "/etc/ssh");
    assert_eq!(overlay.typ().as_deref(), Some("overlay"));
    let options = overlay.options().as_ref().unwrap();
    assert!(options.contains(&"upperdir=/var/lib/vroot/hosts/web/root/etc/ssh".to_string()));
    assert!(options.contains(&"workdir=/var/lib/vroot/hosts/web/work/dir%etc%ssh".to_string()));
    let tmp = mount_at(&spec, "/tmp");
    assert!(tmp
        .options()
        .as_ref()
        .unwrap()
        .contains(&"mode=1777".to_string()));
    let order: Vec<_> = spec
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    let run = order.iter().position(|d| d == "/run").unwrap();
    assert!(order.iter().position(|d| d == "/etc/ssh").unwrap() > run);
}

#[test]
fn overlayfs_mode_puts_the_root_overlay_first() {
    let spec = render(
        &config(""),
        "host1",
        &layer(),
        &plan(LayerMode::Overlayfs, Vec::new()),
    )
    .unwrap();
    let first = &spec.mounts().as_ref().unwrap()[0];
    assert_eq!(first.destination(), Path::new("/"));
    let options = first.options().as_ref().unwrap();
    assert!(options.contains(&"upperdir=/var/lib/vroot/hosts/web/root".to_string()));
    assert!(options.contains(&"workdir=/var/lib/vroot/hosts/web/work/root".to_string()));
}

#[test]
fn the_device_list_starts_with_nothing_and_allows_only_the_container_s_nodes() {
    let spec = render_plain(&config(""), "host1").unwrap();
    let limits = crate::cgroups::ResourceLimits::from_spec(&spec);
    let rules: Vec<String> = limits
        .devices
        .iter()
        .map(crate::cgroups::v1_device_rule)
        .collect();
    assert_eq!(rules[0], "a");
    assert!(!limits.devices[0].allow());
    for allowed in [
        "c 1:3 rwm",
        "c 1:9 rwm",
        "c 5:0 rwm",
        "c 136:* rwm",
        "c 5:2 rwm",
    ] {
        assert!(
            rules.iter().any(|rule| rule == allowed),
            "{allowed} in {rules:?}"
        );
    }
    assert!(
        limits.devices[1..].iter().all(|rule| rule.allow()),
        "{rules:?}"
    );
    assert!(
        !rules.iter().any(|rule| rule.starts_with("b ")),
        "no block device: {rules:?}"
    );
}
