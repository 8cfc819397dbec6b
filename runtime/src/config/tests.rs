use super::*;

fn parse(text: &str) -> Result<ContainerConfig, ConfigError> {
    ContainerConfig::parse("web", Path::new("/etc/vroot/web.toml"), text, "host1")
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn minimal_config_gets_documented_defaults() {
    let config = parse(r#"root = "/vz/private/web""#).unwrap();
    assert_eq!(config.root, PathBuf::from("/vz/private/web"));
    assert_eq!(config.init, vec!["/sbin/init"]);
    assert_eq!(config.hostname, "host1");
    assert_eq!(config.stop_timeout, Duration::from_secs(60));
    assert_eq!(config.halt_signal, None);
    assert_eq!(config.on_reboot, OnReboot::Restart);
    assert_eq!(config.limits, Limits::default());
    assert!(config.network.is_empty());
    assert_eq!(config.fence, FencePolicy::default());
    assert_eq!(config.fence.on_hang, OnHang::None);
}

#[test]
fn the_fence_policy_is_read_and_checked() {
    let config = parse(
        r#"
root = "/vz/private/web"
[fence]
on_hang = "fence"
hang_timeout = 3
restart_on_recovery = true
"#,
    )
    .unwrap();
    assert_eq!(
        config.fence,
        FencePolicy {
            on_hang: OnHang::Fence,
            hang_timeout: Duration::from_secs(3),
            restart_on_recovery: true,
        }
    );
    let zero = error("root = \"/r\"\n[fence]\nhang_timeout = 0\n");
    assert!(
        zero.contains("`fence.hang_timeout` must be 1 to 3600 seconds"),
        "{zero}"
    );
    let lonely = error("root = \"/r\"\n[fence]\nrestart_on_recovery = true\n");
    assert!(
        lonely.contains("`fence.restart_on_recovery` needs on_hang"),
        "{lonely}"
    );
    let unknown = error("root = \"/r\"\n[fence]\non_hang = \"panic\"\n");
    assert!(unknown.contains("unknown value `panic`"), "{unknown}");
}

#[test]
fn full_config_is_read() {
    let config = parse(
        r#"
root = "/vz/private/web"
init = ["/lib/systemd/systemd", "--log-level=info"]
hostname = "node1"
stop_timeout = 15
halt_signal = "SIGRTMIN+4"
on_reboot = "stop"
[limits]
memory = "2G"
cpus = 1.5
pids = 4096
[network]
mode = "none"
"#,
    )
    .unwrap();
    assert_eq!(config.init[1], "--log-level=info");
    assert_eq!(config.hostname, "node1");
    assert_eq!(config.stop_timeout, Duration::from_secs(15));
    assert_eq!(config.halt_signal, Some(RawSignal::rt(4)));
    assert_eq!(config.on_reboot, OnReboot::Stop);
    assert_eq!(config.limits.memory_bytes, Some(2 << 30));
    assert_eq!(config.limits.cpus, Some(1.5));
    assert_eq!(config.limits.pids, Some(4096));
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let message = error("root = \"/r\"\ncolour = \"blue\"\n");
    assert!(message.contains("unknown key `colour`"), "{message}");
    assert!(message.contains("line 2"), "{message}");
    let nested = error("root = \"/r\"\n[limits]\nmemroy = \"1G\"\n");
    assert!(nested.contains("unknown key `memroy`"), "{nested}");
    assert!(nested.contains("line 3"), "{nested}");
}

#[test]
fn every_message_is_one_line() {
    for text in ["root = ", "[limits", "root = \"/r\"\nx = 1", "root = 3"] {
        let message = error(text);
        assert!(!message.contains('\n'), "{message:?}");
        assert!(message.starts_with("/etc/vroot/web.toml"), "{message}");
    }
}

#[test]
fn missing_root_is_reported() {
    assert!(error("init = [\"/sbin/init\"]").contains("missing field `root`"));
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        ("root = \"relative\"", "`root`"),
        ("root = \"/r\"\ninit = []", "`init`"),
        ("root = \"/r\"\ninit = [\"sbin/init\"]", "`init`"),
        ("root = \"/r\"\nhostname = \"bad_name!\"", "`hostname`"),
        ("root = \"/r\"\nhalt_signal = \"SIGNOPE\"", "`halt_signal`"),
        ("root = \"/r\"\nstop_timeout = 999999", "`stop_timeout`"),
        (
            "root = \"/r\"\n[limits]\nmemory = \"2X\"",
            "`limits.memory`",
        ),
        ("root = \"/r\"\n[limits]\ncpus = 0.0", "`limits.cpus`"),
        ("root = \"/r\"\n[limits]\npids = 0", "`limits.pids`"),
    ];
    for (text, field) in cases {
        let message = error(text);
        assert!(message.contains(field), "{text:?} gave {message}");
    }
}

#[test]
fn unsupported_enum_values_are_named() {
    assert!(error("root = \"/r\"\non_reboot = \"explode\"").contains("explode"));
    assert!(error("root = \"/r\"\n[network]\nmode = \"bond\"").contains("bond"));
}

#[test]
fn network_interfaces_are_read_and_their_errors_name_the_file_and_key() {
    let config = parse("root = \"/r\"\n[network]\nmode = \"veth\"\nbridge = \"br0\"\n").unwrap();
    assert_eq!(config.network.len(), 1);
    assert_eq!(config.network[0].name, "eth0");
    let message = error("root = \"/r\"\n[network]\nmode = \"macvlan\"\n");
    assert!(
        message.starts_with(
            "/etc/vroot/web.toml: `network` interface 1 (`eth0`): mode macvlan needs `parent`"
        ),
        "{message}"
    );
}

#[test]
fn bad_names_are_refused_before_reading() {
    let error = ContainerConfig::parse("../x", Path::new("/x"), "root = \"/r\"", "h").unwrap_err();
    assert!(matches!(error, ConfigError::BadName { .. }));
}

#[test]
fn missing_file_says_unknown_container() {
    let dir = std::env::temp_dir().join(format!("vroot-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let error = ContainerConfig::load(&dir, "absent").unwrap_err();
    assert!(
        error.to_string().starts_with("unknown container `absent`"),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
