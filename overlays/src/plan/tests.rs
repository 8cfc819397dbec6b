use super::*;
use crate::config::FileOverlay;
use crate::tree::tests::Scratch;

fn config(text: &str) -> OverlayConfig {
    let file: FileOverlay = toml::from_str(text).unwrap();
    file.validate(Path::new("/etc/vroot")).unwrap()
}

/// A shared root with /etc (holding the shared /etc/passwd), /etc/ssh,
/// /etc/myapp, /var/log, /var/lib/systemd and /tmp.
fn shared_root(scratch: &Scratch) -> Tree {
    let root = scratch.0.join("root");
    for dir in ["etc/ssh", "etc/myapp", "var/log", "var/lib/systemd", "tmp"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for file in [
        "etc/passwd",
        "etc/hostname",
        "etc/machine-id",
        "etc/myapp/node.conf",
    ] {
        std::fs::write(root.join(file), "").unwrap();
    }
    std::os::unix::fs::symlink("/run", root.join("var/run")).unwrap();
    Tree::open(&root).unwrap()
}

fn placement<'p>(plan: &'p Plan, path: &str) -> &'p Placement {
    &plan
        .items
        .iter()
        .find(|item| item.entry.path == path)
        .unwrap_or_else(|| panic!("no item {path}"))
        .placement
}

#[test]
fn bind_mode_binds_dirs_overlays_parents_and_binds_files_beside_shared_paths() {
    let scratch = Scratch::new("plan-bind");
    let shared = shared_root(&scratch);
    let plan = plan(
        &config("[[path]]\npath = \"/etc/myapp/node.conf\"\nmode = \"seed\"\n[[path]]\npath = \"/var/log/app\"\nmode = \"empty\"\n"),
        &shared,
        None,
    )
    .unwrap();
    assert_eq!(
        placement(&plan, "/var/log"),
        &Placement::Bind { readonly: false }
    );
    assert_eq!(
        placement(&plan, "/var/log/app"),
        &Placement::Inside {
            entry: "/var/log".into()
        }
    );
    assert_eq!(
        placement(&plan, "/etc/myapp/node.conf"),
        &Placement::ParentOverlay {
            parent: "/etc/myapp".into()
        }
    );
    assert_eq!(
        placement(&plan, "/etc/ssh/ssh_host_*"),
        &Placement::ParentOverlay {
            parent: "/etc/ssh".into()
        }
    );
    // /etc holds /etc/passwd: overlaying it would make that per-host.
    assert_eq!(
        placement(&plan, "/etc/hostname"),
        &Placement::Bind { readonly: true }
    );
    assert!(matches!(
        placement(&plan, "/etc/adjtime"),
        Placement::Skipped { .. }
    ));
    assert_eq!(placement(&plan, "/tmp"), &Placement::Tmpfs);
    // One overlay per parent, parents before what is mounted inside them.
    let overlays = plan
        .mounts
        .iter()
        .filter(|m| matches!(m, LayerMount::ParentOverlay { target, .. } if target == "/var/lib/systemd"))
        .count();
    assert_eq!(
        overlays, 1,
        "random-seed and credential.secret share one overlay"
    );
    let depths: Vec<usize> = plan
        .mounts
        .iter()
        .map(|m| match m {
            LayerMount::Bind { target, .. }
            | LayerMount::ParentOverlay { target, .. }
            | LayerMount::Tmpfs { target, .. } => target.matches('/').count(),
        })
        .collect();
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{depths:?}");
    assert_eq!(plan.root_work, None);
}

#[test]
fn a_declared_entry_without_its_mount_point_is_refused_with_the_fix() {
    let scratch = Scratch::new("plan-missing");
    let shared = shared_root(&scratch);
    for (text, expected) in [
        (
            "[[path]]\npath = \"/opt/app/state\"\nmode = \"empty\"\n",
            "mkdir -p",
        ),
        (
            "[[path]]\npath = \"/etc/node.id\"\nmode = \"seed\"\non_missing = \"create\"\n",
            "touch",
        ),
        (
            "[[path]]\npath = \"/var/run\"\nmode = \"empty\"\n",
            "symlink",
        ),
    ] {
        let error = plan(&config(text), &shared, None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("overlay.path[0]") && message.contains(expected),
            "{message}"
        );
    }
    assert!(
        plan(&config(""), &shared, None).is_ok(),
        "built-in entries are skipped instead"
    );
}

#[test]
fn overlayfs_mode_places_everything_in_the_upper() {
    let scratch = Scratch::new("plan-ofs");
    let shared = shared_root(&scratch);
    let plan = plan(&config("mode = \"overlayfs\"\n"), &shared, None).unwrap();
    assert_eq!(plan.root_work.as_deref(), Some(ROOT_WORK));
    assert_eq!(placement(&plan, "/etc/hostname"), &Placement::Upper);
    assert_eq!(placement(&plan, "/var/log"), &Placement::Upper);
    assert_eq!(placement(&plan, "/tmp"), &Placement::Tmpfs);
    assert!(plan
        .mounts
        .iter()
        .all(|m| matches!(m, LayerMount::Tmpfs { .. })));
}

#[test]
fn work_names_are_distinct_and_never_the_root_one() {
    assert_ne!(work_name("/etc/a%b"), work_name("/etc/a/b"));
    assert_ne!(work_name("/root"), ROOT_WORK);
}

#[test]
fn prepare_generates_secrets_once_seeds_once_and_hides_leftover_keys() {
    use crate::layout::LayerPaths;
    use crate::prepare::{prepare, Inputs};
    let scratch = Scratch::new("prepare");
    let shared = shared_root(&scratch);
    std::fs::write(
        scratch.0.join("root/etc/ssh/ssh_host_rsa_key"),
        "other host",
    )
    .unwrap();
    std::fs::write(scratch.0.join("root/etc/myapp/node.conf"), "v1\n").unwrap();
    let config = config("[[path]]\npath = \"/etc/myapp/node.conf\"\nmode = \"seed\"\n");
    let layer = LayerPaths::new(&scratch.0.join("layer"));
    let variables: crate::template::Variables = [
        ("machine_id", "0123456789abcdef0123456789abcdef"),
        ("hostname", "n1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let inputs = Inputs {
        variables: &variables,
        key_comment: "root@n1",
    };
    let first = plan(&config, &shared, None).unwrap();
    prepare(&first, &shared, &layer, &inputs).unwrap();
    let copy = |path: &str| std::fs::read(layer.copy_of(path)).unwrap();
    let key = copy("/etc/ssh/ssh_host_ed25519_key");
    assert_eq!(copy("/etc/hostname"), b"n1\n");
    assert_eq!(copy("/etc/myapp/node.conf"), b"v1\n");
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(layer.copy_of("/etc/ssh/ssh_host_rsa_key"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
    assert_eq!(copy("/var/lib/systemd/credential.secret").len(), 16 + 4096);

    // A second start keeps secrets and seeds, and renders gen entries again.
    std::fs::write(scratch.0.join("root/etc/myapp/node.conf"), "v2\n").unwrap();
    std::fs::write(layer.copy_of("/etc/hostname"), "edited\n").unwrap();
    let layer_tree = Tree::open(&layer.root()).unwrap();
    let second = plan(&config, &shared, Some(&layer_tree)).unwrap();
    prepare(&second, &shared, &layer, &inputs).unwrap();
    assert_eq!(copy("/etc/ssh/ssh_host_ed25519_key"), key);
    assert_eq!(copy("/etc/myapp/node.conf"), b"v1\n");
    assert_eq!(copy("/etc/hostname"), b"n1\n");
    let record = crate::record::LayerRecord::load(&layer.dir).unwrap();
    assert!(record.seeds.contains_key("/etc/myapp/node.conf"));
    assert!(record.secrets.contains_key("/etc/ssh/ssh_host_ed25519_key"));
}
