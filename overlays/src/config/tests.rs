use super::*;

fn parse(text: &str) -> Result<OverlayConfig, OverlayConfigError> {
    let file: FileOverlay = toml::from_str(text).expect("valid toml");
    file.validate(Path::new("/etc/vroot"))
}

fn entry<'c>(config: &'c OverlayConfig, path: &str) -> Option<&'c Entry> {
    config.entries.iter().find(|e| e.path == path)
}

#[test]
fn no_table_means_the_builtin_defaults_in_bind_mode() {
    let config = FileOverlay::default().validate(Path::new("/")).unwrap();
    assert_eq!(config.mode, LayerMode::Bind);
    assert_eq!(entry(&config, "/var/log").unwrap().mode, Mode::Skel);
    assert!(config.shared.iter().any(|e| e.path == "/etc/passwd"));
    assert!(config.entries.windows(2).all(|w| w[0].path < w[1].path));
}

#[test]
fn defaults_false_keeps_only_declared_entries_but_shared_paths_stay_protected() {
    let config =
        parse("defaults = false\n[[path]]\npath = \"/srv/state\"\nmode = \"empty\"\n").unwrap();
    assert_eq!(config.entries.len(), 1);
    assert_eq!(config.entries[0].origin, Origin::Config { index: 0 });
    let error = parse("defaults = false\n[[path]]\npath = \"/var/lib/dpkg\"\nmode = \"seed\"\n")
        .unwrap_err();
    assert_eq!(error.field, "overlay.path[0].path");
}

#[test]
fn a_declared_entry_replaces_the_default_and_shared_switches_it_off() {
    let config = parse(
        "[[path]]\npath = \"/var/log\"\nmode = \"empty\"\n[[path]]\npath = \"/var/cache\"\nmode = \"shared\"\n",
    )
    .unwrap();
    assert_eq!(entry(&config, "/var/log").unwrap().mode, Mode::Empty);
    assert!(entry(&config, "/var/cache").is_none());
    assert!(config.shared.iter().any(|e| e.path == "/var/cache"));
}

#[test]
fn shared_paths_can_be_neither_overlaid_nor_contained_nor_nested() {
    for (path, mode) in [
        ("/etc/passwd", "seed"),
        ("/var/lib", "empty"),
        ("/var/lib/dpkg/status", "seed"),
    ] {
        let error =
            parse(&format!("[[path]]\npath = \"{path}\"\nmode = \"{mode}\"\n")).unwrap_err();
        assert_eq!(error.field, "overlay.path[0].path", "{path}");
        assert!(error.reason.contains("shared"), "{error}");
    }
    // A shared path declared inside a per-host default must switch it off first.
    let error = parse("[[path]]\npath = \"/var/log/journal\"\nmode = \"shared\"\n").unwrap_err();
    assert!(error.reason.contains("switch that off"), "{error}");
}

#[test]
fn templates_belong_to_gen_entries_and_gen_needs_one() {
    let error = parse("[[path]]\npath = \"/etc/a\"\nmode = \"gen\"\n").unwrap_err();
    assert_eq!(error.field, "overlay.path[0].template");
    let error =
        parse("[[path]]\npath = \"/etc/a\"\nmode = \"seed\"\ntemplate = \"a.tmpl\"\n").unwrap_err();
    assert!(error.reason.contains("only for mode `gen`"), "{error}");
    let config =
        parse("[[path]]\npath = \"/etc/a\"\nmode = \"gen\"\ntemplate = \"t/a\"\n").unwrap();
    assert_eq!(
        entry(&config, "/etc/a").unwrap().template.as_deref(),
        Some(Path::new("/etc/vroot/t/a")),
        "relative templates are taken from the config's directory"
    );
}

#[test]
fn paths_must_be_normal_absolute_and_outside_what_vroot_mounts() {
    for bad in [
        "etc/a",
        "/",
        "/etc//a",
        "/etc/a/",
        "/etc/../a",
        "/run/x",
        "/proc",
        "/etc/*/a",
        "/etc/*",
    ] {
        let error = parse(&format!("[[path]]\npath = \"{bad}\"\nmode = \"empty\"\n")).unwrap_err();
        assert_eq!(error.field, "overlay.path[0].path", "{bad}: {error}");
    }
    let error = parse("[[path]]\npath = \"/etc/x_*\"\nmode = \"empty\"\n").unwrap_err();
    assert!(error.reason.contains("secret and seed"), "{error}");
    let twice = "[[path]]\npath = \"/srv/a\"\nmode = \"empty\"\n";
    let error = parse(&format!("{twice}{twice}")).unwrap_err();
    assert_eq!(error.field, "overlay.path[1].path");
}

#[test]
fn secrets_are_never_copied_from_the_shared_root() {
    let error =
        parse("[[path]]\npath = \"/etc/k\"\nmode = \"secret\"\non_missing = \"copy-default\"\n")
            .unwrap_err();
    assert_eq!(error.field, "overlay.path[0].on_missing");
}

#[test]
fn variables_are_checked() {
    assert_eq!(
        parse("[vars]\nHostName = \"x\"\n").unwrap_err().field,
        "overlay.vars.HostName"
    );
    assert!(parse("[vars]\nhostname = \"x\"\n")
        .unwrap_err()
        .reason
        .contains("vroot sets itself"));
    assert_eq!(
        parse("[vars]\naddress = \"192.0.2.1/24\"\n").unwrap().vars["address"],
        "192.0.2.1/24"
    );
}

#[test]
fn unknown_modes_and_keys_are_refused_by_the_parser() {
    let error =
        toml::from_str::<FileOverlay>("[[path]]\npath = \"/a\"\nmode = \"perhost\"\n").unwrap_err();
    assert!(
        error.to_string().contains("unknown variant `perhost`"),
        "{error}"
    );
    assert!(toml::from_str::<FileOverlay>("color = 1\n").is_err());
}

#[test]
fn entries_cover_their_paths_and_below_and_patterns_their_names() {
    let config = FileOverlay::default().validate(Path::new("/")).unwrap();
    let covering = |path: &str| {
        config
            .entries
            .iter()
            .find(|e| e.covers(path))
            .map(|e| e.mode)
    };
    assert_eq!(covering("/etc/machine-id"), Some(Mode::Gen));
    assert_eq!(
        covering("/etc/ssh/ssh_host_ed25519_key"),
        Some(Mode::Secret)
    );
    assert_eq!(covering("/etc/ssh/sshd_config"), None);
    assert_eq!(covering("/etc/ssh/ssh_host_x/deeper"), None);
    assert_eq!(
        covering("/var/lib/dhcp/dhclient.eth0.leases"),
        Some(Mode::Empty)
    );
    assert_eq!(
        covering("/var/lib/dhcpd"),
        None,
        "a prefix of a name is not a parent"
    );
    assert_eq!(
        covering("/etc/passwd"),
        None,
        "shared paths are not per-host"
    );
}
