//! Every `--json` output against its schema in `docs/schemas/`: the schemas
//! are valid JSON Schema 2020-12, their README's examples match them, every
//! variant of the Rust types behind the outputs serialises as they say (no
//! root needed), and the real outputs of a busybox container match them in
//! each state (root needed, like the rest of this suite).
//!
//! A field added to an output type, or a variant to one of its enums, fails
//! here until the schema describes it: the schemas are `additionalProperties:
//! false` and the variant lists below are checked for exhaustiveness by the
//! compiler.

use std::path::PathBuf;
use std::process::Output;

use serde_json::{json, Value};

use crate::harness::*;

/// The schemas of the outputs this file checks, by file stem (the
/// directory may hold more: every one is registered and checked for
/// validity).
const SCHEMAS: &[&str] = &[
    "status",
    "list",
    "fence",
    "lint",
    "overlay-status",
    "overlay-diff",
    "storage-status",
    "doctor",
];

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/schemas")
}

/// The URI a schema is known by, so that `list.json`'s relative
/// `"$ref": "status.json"` resolves as it does for a file-based validator.
fn schema_uri(stem: &str) -> String {
    format!("file://{}/{stem}.json", schema_dir().display())
}

/// Every `docs/schemas/*.json`, by file stem, sorted.
fn all_schemas() -> Vec<String> {
    let mut stems: Vec<String> = std::fs::read_dir(schema_dir())
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    stems.sort();
    stems
}

fn load_schema(stem: &str) -> Value {
    let path = schema_dir().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()))
}

/// What is wrong with `instance` against `docs/schemas/STEM.json`, one line
/// per problem; empty when it is valid. Formats (`date-time`) are checked.
fn problems(stem: &str, instance: &Value) -> Vec<String> {
    let mut registry = jsonschema::Registry::new();
    for schema in all_schemas() {
        registry = registry
            .add(schema_uri(&schema), load_schema(&schema))
            .expect("a schema URI");
    }
    let registry = registry.prepare().expect("the schemas resolve");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(&registry)
        .should_validate_formats(true)
        .build(&json!({ "$ref": schema_uri(stem) }))
        .unwrap_or_else(|error| panic!("{stem}.json does not compile: {error}"));
    validator
        .iter_errors(instance)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect()
}

#[track_caller]
pub(crate) fn assert_valid(stem: &str, instance: &Value) {
    let found = problems(stem, instance);
    assert!(
        found.is_empty(),
        "does not match docs/schemas/{stem}.json:\n  {}\n{}",
        found.join("\n  "),
        serde_json::to_string_pretty(instance).unwrap()
    );
}

#[track_caller]
fn assert_invalid(stem: &str, instance: &Value) {
    assert!(
        !problems(stem, instance).is_empty(),
        "docs/schemas/{stem}.json accepts what it must not:\n{}",
        serde_json::to_string_pretty(instance).unwrap()
    );
}

/// What `--json` prints for `value`, as a JSON value.
macro_rules! to_json {
    ($value:expr) => {
        serde_json::to_value($value).expect("the output serialises")
    };
}

// ---------------------------------------------------------------------------
// The schemas themselves and their README (no root needed).

#[test]
fn every_schema_is_a_valid_2020_12_schema() {
    let stems = all_schemas();
    for stem in SCHEMAS {
        assert!(
            stems.iter().any(|s| s == stem),
            "docs/schemas/{stem}.json is missing"
        );
    }
    for stem in &stems {
        let schema = load_schema(stem);
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{stem}.json"
        );
        assert!(schema["title"].is_string(), "{stem}.json has no title");
        if let Err(error) = jsonschema::meta::validate(&schema) {
            panic!("{stem}.json is not a valid JSON Schema: {error}");
        }
        // Compiles, with its references resolved.
        problems(stem, &Value::Null);
    }
}

/// The README's examples: each ```json block belongs to the schema linked
/// in the heading above it.
#[test]
fn the_readme_examples_match_their_schemas() {
    let readme = std::fs::read_to_string(schema_dir().join("README.md")).unwrap();
    let mut current: Option<String> = None;
    let mut block: Option<String> = None;
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for line in readme.lines() {
        match &mut block {
            Some(text) if line.trim_end() == "```" => {
                let stem = current
                    .clone()
                    .expect("a ```json block under a heading that links its schema");
                let example: Value = serde_json::from_str(text)
                    .unwrap_or_else(|error| panic!("the {stem} example is not JSON: {error}"));
                assert_valid(&stem, &example);
                *checked.entry(stem).or_default() += 1;
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None if line.trim_end() == "```json" => block = Some(String::new()),
            None if line.starts_with('#') => {
                current = all_schemas()
                    .into_iter()
                    .find(|stem| line.contains(&format!("]({stem}.json)")));
            }
            None => {}
        }
    }
    for stem in SCHEMAS {
        assert!(
            checked.get(*stem).is_some_and(|count| *count >= 1),
            "README.md has no example for {stem}.json: {checked:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Every variant of the output types (no root needed).

/// Every variant of a field-less enum; adding one to the type fails to
/// compile here until it is listed (and the schema's `enum` updated).
macro_rules! all_variants {
    ($type:ident { $($variant:ident),+ $(,)? }) => {{
        #[allow(dead_code)]
        fn exhaustive(value: $type) {
            match value {
                $($type::$variant)|+ => {}
            }
        }
        vec![$($type::$variant),+]
    }};
}

mod types {
    pub use vroot_bootstrap::storage::{Health as StorageHealthWord, StorageStatus, StorageType};
    pub use vroot_overlays::config::LayerMode;
    pub use vroot_overlays::diff::{Change, Difference};
    pub use vroot_overlays::lint::Finding;
    pub use vroot_overlays::manifest::Mode;
    pub use vroot_overlays::plan::Placement;
    pub use vroot_overlays::status::{EntryStatus, LayerStatus, State};
    pub use vroot_runtime::fence::marker::{FenceMarker, FencedBy};
    pub use vroot_runtime::fence::FenceReport;
    pub use vroot_runtime::lifecycle::fence::FenceResult;
    pub use vroot_runtime::lifecycle::inspect::{RunState, Status};
    pub use vroot_runtime::network::record::{MovedDevice, RecordedLink};
    pub use vroot_runtime::network::types::MacAddress;
    pub use vroot_runtime::supervisor::watchdog::{Health, StorageHealth};
}

/// A running container with everything filled in: the watchdog's verdict,
/// a fenced marker with its outcome, a veth and a lent device.
fn full_status() -> types::Status {
    use types::*;
    Status {
        name: "web-1".into(),
        state: RunState::Running,
        init_pid: Some(4242),
        started_at: Some("2026-11-22T15:04:05Z".into()),
        root: Some("/vz/private/web".into()),
        supervisor_pid: Some(4240),
        supervisor_alive: true,
        boot_count: 2,
        cgroup: Some("/vroot/web-1".into()),
        storage: Some(StorageHealth {
            health: Health::Healthy,
            last_answer: Some("2026-11-22T15:14:05Z".into()),
            last_probe_ms: Some(3),
        }),
        fenced: Some(FenceMarker {
            name: "web-1".into(),
            since: "2026-11-22T15:20:00Z".into(),
            by: FencedBy::Watchdog,
            reason: "the storage hung".into(),
            outcome: Some("fenced in 12 ms: 3 task(s) killed".into()),
        }),
        network: vec![
            RecordedLink {
                name: "eth0".into(),
                mode: "veth".into(),
                host_name: Some("vr-web-1-0".into()),
                device: None,
                inside_index: Some(2),
            },
            RecordedLink {
                name: "eth1".into(),
                mode: "phys".into(),
                host_name: None,
                device: Some(MovedDevice {
                    original_name: "enp3s0".into(),
                    original_alias: None,
                    inside_index: 3,
                    original_mac: Some(MacAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])),
                    original_mtu: Some(1500),
                    kind: None,
                    permanent_mac: Some(MacAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])),
                }),
                inside_index: None,
            },
        ],
    }
}

fn stopped_status() -> types::Status {
    types::Status {
        name: "web-2".into(),
        state: types::RunState::Stopped,
        init_pid: None,
        started_at: None,
        root: None,
        supervisor_pid: None,
        supervisor_alive: false,
        boot_count: 0,
        cgroup: None,
        storage: None,
        fenced: None,
        network: Vec::new(),
    }
}

#[test]
fn every_status_variant_matches_the_status_and_list_schemas() {
    use types::*;
    assert_valid("status", &to_json!(&stopped_status()));
    for state in all_variants!(RunState {
        Running,
        Stopped,
        Starting,
        Stopping,
        Fenced
    }) {
        let mut status = full_status();
        status.state = state;
        assert_valid("status", &to_json!(&status));
    }
    for health in all_variants!(Health {
        Healthy,
        Slow,
        Hung,
        Failed
    }) {
        let mut status = full_status();
        status.storage.as_mut().unwrap().health = health;
        status.storage.as_mut().unwrap().last_answer = None;
        status.storage.as_mut().unwrap().last_probe_ms = None;
        assert_valid("status", &to_json!(&status));
    }
    for by in all_variants!(FencedBy { Operator, Watchdog }) {
        let mut status = full_status();
        let marker = status.fenced.as_mut().unwrap();
        marker.by = by;
        marker.outcome = None;
        assert_valid("status", &to_json!(&status));
    }
    for mode in ["veth", "macvlan", "ipvlan", "phys"] {
        let mut status = full_status();
        status.network[0].mode = mode.into();
        assert_valid("status", &to_json!(&status));
    }
    assert_valid("list", &json!([]));
    assert_valid("list", &to_json!(&vec![full_status(), stopped_status()]));

    // The schemas reject what is not an output.
    let status = to_json!(&full_status());
    let with = |pointer: &str, value: Value| {
        let mut changed = status.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        changed
    };
    assert_invalid("status", &with("/state", json!("paused")));
    assert_invalid("status", &with("/init_pid", json!("4242")));
    assert_invalid("status", &with("/started_at", json!("yesterday")));
    assert_invalid("status", &with("/storage/health", json!("not_mounted")));
    assert_invalid("status", &with("/fenced/by", json!("cluster")));
    assert_invalid("status", &with("/network/0/mode", json!("bridge")));
    assert_invalid(
        "status",
        &with("/network/1/device/original_mac", json!("52-54-00-12-34-56")),
    );
    let mut missing = status.clone();
    missing.as_object_mut().unwrap().remove("cgroup");
    assert_invalid("status", &missing);
    let mut extra = status.clone();
    extra["paused"] = json!(true);
    assert_invalid("status", &extra);
    assert_invalid("list", &json!([with("/name", json!("../etc"))]));
    assert_invalid("list", &status);
}

#[test]
fn the_fence_result_matches_its_schema() {
    use types::*;
    let report = FenceReport {
        tasks_killed: 12,
        links_cut: vec!["eth0".into(), "vr-web-1-0".into()],
        links_returned: vec!["enp3s0".into()],
        links_not_cut: vec!["eth2: no such link".into()],
        storage_released: vec!["fuse connection 43".into()],
        storage_errors: vec!["cannot abort connection 44: EPERM".into()],
        storage_release_rounds: 2,
        mounts_detached: true,
        tasks_left: vec![4242],
        mount_namespace_members: vec![4243],
        needs_host_fencing: true,
        elapsed_ms: 1834,
    };
    let result = FenceResult {
        name: "web-1".into(),
        already_off: false,
        verified: false,
        report,
    };
    assert_valid("fence", &to_json!(&result));
    let off = FenceResult {
        name: "web-1".into(),
        already_off: true,
        verified: true,
        report: FenceReport::default(),
    };
    let value = to_json!(&off);
    assert_valid("fence", &value);
    let mut nested = value.clone();
    nested["report"] = json!({});
    assert_invalid("fence", &nested);
    let mut negative = value;
    negative["tasks_killed"] = json!(-1);
    assert_invalid("fence", &negative);
}

#[test]
fn lint_findings_and_layer_differences_match_their_schemas() {
    use types::*;
    assert_valid("lint", &json!([]));
    let finding = Finding {
        path: "/etc/machine-id".into(),
        problem: "the machine-id is filled in".into(),
        fix: "empty it".into(),
    };
    assert_valid("lint", &to_json!(&vec![finding]));
    assert_invalid(
        "lint",
        &json!([{ "path": "/etc/machine-id", "problem": "x" }]),
    );

    assert_valid("overlay-diff", &json!([]));
    let differences: Vec<Difference> = all_variants!(Change {
        OnlyInFirst,
        OnlyInSecond,
        Kind,
        Content,
        Mode,
        Owner,
    })
    .into_iter()
    .map(|change| Difference {
        path: "/etc/hostname".into(),
        change,
    })
    .collect();
    assert_valid("overlay-diff", &to_json!(&differences));
    assert_invalid(
        "overlay-diff",
        &json!([{ "path": "/etc/hostname", "change": "only_in_first" }]),
    );
}

#[test]
fn every_layer_status_variant_matches_its_schema() {
    use types::*;
    // Every placement: adding one fails to compile until it is listed here.
    let placements = vec![
        Placement::Bind { readonly: true },
        Placement::ParentOverlay {
            parent: "/etc/myapp".into(),
        },
        Placement::Inside {
            entry: "/etc/ssh".into(),
        },
        Placement::Upper,
        Placement::Tmpfs,
        Placement::Skipped {
            reason: "the shared root has no /etc/dhcp".into(),
        },
    ];
    for placement in &placements {
        match placement {
            Placement::Bind { .. }
            | Placement::ParentOverlay { .. }
            | Placement::Inside { .. }
            | Placement::Upper
            | Placement::Tmpfs
            | Placement::Skipped { .. } => {}
        }
    }
    let modes = all_variants!(Mode {
        Gen,
        Secret,
        Seed,
        Skel,
        Empty,
        Tmp,
        Shared
    });
    let states = all_variants!(State {
        Ok,
        Missing,
        Outdated,
        TemplateMissing,
        SeedChanged,
        Skipped,
    });
    // `shared` entries are not per-host: status never lists them.
    let listed_modes: Vec<Mode> = modes.into_iter().filter(|m| *m != Mode::Shared).collect();
    let entries: Vec<EntryStatus> = placements
        .iter()
        .flat_map(|placement| {
            listed_modes
                .iter()
                .zip(states.iter().cycle())
                .map(move |(mode, state)| EntryStatus {
                    path: "/etc/hostname".into(),
                    mode: *mode,
                    placement: placement.clone(),
                    source: "vroot (from the config)".into(),
                    state: *state,
                    note: Some("a note".into()),
                })
        })
        .chain(states.iter().map(|state| EntryStatus {
            path: "/var/log".into(),
            mode: Mode::Empty,
            placement: Placement::Tmpfs,
            source: "empty".into(),
            state: *state,
            note: None,
        }))
        .collect();
    for mode in all_variants!(LayerMode { Bind, Overlayfs }) {
        let status = LayerStatus {
            layer: "/var/lib/vroot/hosts/web-1".into(),
            mode,
            exists: true,
            entries: entries.clone(),
            undeclared: vec!["/etc/myapp/extra.conf".into()],
            shared_written: vec!["/etc/passwd".into()],
        };
        let value = to_json!(&status);
        assert_valid("overlay-status", &value);
        assert_invalid(
            "overlay-status",
            &json!({ "mode": "bind", "layer": "/x", "exists": false, "entries": [] }),
        );
        let mut bad_placement = value.clone();
        bad_placement["entries"][0]["placement"] = json!({ "how": "bind" });
        assert_invalid("overlay-status", &bad_placement);
        bad_placement["entries"][0]["placement"] =
            json!({ "how": "bind", "readonly": true, "parent": "/etc" });
        assert_invalid("overlay-status", &bad_placement);
        bad_placement["entries"][0]["placement"] = json!({ "how": "copy" });
        assert_invalid("overlay-status", &bad_placement);
        let mut shared_entry = value;
        shared_entry["entries"][0]["mode"] = json!("shared");
        assert_invalid("overlay-status", &shared_entry);
    }
}

#[test]
fn every_storage_status_variant_matches_its_schema() {
    use types::*;
    let types = all_variants!(StorageType {
        Nfs,
        Glusterfs,
        Cephfs,
        Cifs,
        NineP,
        Virtiofs,
        Gfs2,
        Ocfs2,
        Local
    });
    let healths = all_variants!(StorageHealthWord {
        Healthy,
        Slow,
        Hung,
        NotMounted,
        WrongType
    });
    for storage_type in &types {
        for health in &healths {
            let status = StorageStatus {
                storage_type: *storage_type,
                source: Some("192.0.2.1:/export".into()),
                target: "/vz/private".into(),
                mounted: true,
                mounted_type: Some("nfs4".into()),
                mounted_source: Some("192.0.2.1:/export".into()),
                health: *health,
                probe_ms: Some(2),
                message: "healthy".into(),
            };
            assert_valid("storage-status", &to_json!(&status));
        }
    }
    let bare = StorageStatus {
        storage_type: StorageType::Local,
        source: None,
        target: "/vz/private".into(),
        mounted: false,
        mounted_type: None,
        mounted_source: None,
        health: StorageHealthWord::NotMounted,
        probe_ms: None,
        message: "cannot tell which mount holds /vz/private".into(),
    };
    let value = to_json!(&bare);
    assert_valid("storage-status", &value);
    let mut renamed = value.clone();
    renamed["health"] = json!("not-mounted");
    assert_invalid("storage-status", &renamed);
    let mut untyped = value;
    untyped.as_object_mut().unwrap().remove("type");
    assert_invalid("storage-status", &untyped);
}

// ---------------------------------------------------------------------------
// The real outputs (root: a busybox container on this host).

#[track_caller]
fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}; exit {:?}): {}{}",
            output.status,
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

/// Runs `vroot ARGS`, checks its exit code and returns its JSON.
#[track_caller]
fn vroot_json(host: &Host, args: &[&str], codes: &[i32]) -> Value {
    let output = host.vroot(args);
    let code = output.status.code().unwrap_or(-1);
    assert!(
        codes.contains(&code),
        "vroot {args:?} exited {code}, not one of {codes:?}: {}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    json_of(&output)
}

#[test]
fn js_real_outputs_match_their_schemas() {
    let host = Host::new("js-schemas");
    let root = host.private_copy(&busybox_root(), "js-root");
    host.config("js-a", &root, "hostname = \"js-alpha\"");
    host.config("js-b", &root, "hostname = \"js-beta\"");
    host.config(
        "js-c",
        &root,
        "hostname = \"js-gamma\"\n[overlay]\nmode = \"overlayfs\"",
    );

    // Never started.
    let status = vroot_json(&host, &["status", "js-a", "--json"], &[3]);
    assert_valid("status", &status);
    assert_eq!(status["state"], "stopped");
    let layer = vroot_json(&host, &["overlay", "status", "js-a", "--json"], &[0]);
    assert_valid("overlay-status", &layer);
    assert_eq!(layer["exists"], false);
    let lint = vroot_json(&host, &["lint", "js-a", "--json"], &[0, 1]);
    assert_valid("lint", &lint);

    // Running.
    host.ok(&["start", "js-a"]);
    wait_until(
        std::time::Duration::from_secs(10),
        "the watchdog's first verdict",
        || !host.status("js-a").1["storage"].is_null(),
    );
    let status = vroot_json(&host, &["status", "js-a", "--json"], &[0]);
    assert_valid("status", &status);
    assert_eq!(status["state"], "running");
    assert!(status["init_pid"].is_i64(), "{status}");
    assert!(status["storage"]["health"].is_string(), "{status}");

    // The validator is not hollow: the real output, changed, fails.
    for (pointer, value) in [
        ("/state", json!("paused")),
        ("/init_pid", json!("a pid")),
        ("/supervisor_alive", json!("yes")),
        ("/storage/health", json!("unknown")),
    ] {
        let mut changed = status.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        assert_invalid("status", &changed);
    }
    let mut extra = status.clone();
    extra["uptime"] = json!(12);
    assert_invalid("status", &extra);

    let list = vroot_json(&host, &["list", "--json"], &[0]);
    assert_valid("list", &list);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|status| status["name"].as_str())
        .collect();
    assert_eq!(names, ["js-a", "js-b", "js-c"]);

    let layer = vroot_json(&host, &["overlay", "status", "js-a", "--json"], &[0]);
    assert_valid("overlay-status", &layer);
    assert_eq!(layer["exists"], true);
    assert_eq!(layer["mode"], "bind");
    let overlayfs = vroot_json(&host, &["overlay", "status", "js-c", "--json"], &[0]);
    assert_valid("overlay-status", &overlayfs);
    assert_eq!(overlayfs["mode"], "overlayfs");

    // Two layers: the hostnames differ.
    host.ok(&["overlay", "init", "js-b"]);
    let differences = vroot_json(&host, &["overlay", "diff", "js-a", "js-b", "--json"], &[1]);
    assert_valid("overlay-diff", &differences);
    assert!(
        differences
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "/etc/hostname"),
        "{differences}"
    );
    let same = vroot_json(&host, &["overlay", "diff", "js-a", "js-a", "--json"], &[0]);
    assert_valid("overlay-diff", &same);
    assert_eq!(same, json!([]));

    // Fenced while running, then while off.
    let fenced = vroot_json(&host, &["fence", "js-a", "--json"], &[0]);
    assert_valid("fence", &fenced);
    assert_eq!(fenced["verified"], true);
    assert_eq!(fenced["already_off"], false);
    let status = vroot_json(&host, &["status", "js-a", "--json"], &[3]);
    assert_valid("status", &status);
    assert_eq!(status["state"], "fenced");
    assert_eq!(status["fenced"]["by"], "operator");
    let off = vroot_json(&host, &["fence", "js-b", "--json"], &[0]);
    assert_valid("fence", &off);
    assert_eq!(off["already_off"], true);
    assert_valid("list", &vroot_json(&host, &["list", "--json"], &[0]));
    host.ok(&["unfence", "js-a"]);
    host.ok(&["unfence", "js-b"]);
    let status = vroot_json(&host, &["status", "js-a", "--json"], &[3]);
    assert_valid("status", &status);
    assert_eq!(status["state"], "stopped");

    // Lint with findings.
    std::fs::write(
        root.join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let lint = vroot_json(&host, &["lint", "js-a", "--json"], &[1]);
    assert_valid("lint", &lint);
    assert!(
        lint.as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "/etc/machine-id"),
        "{lint}"
    );
}

#[test]
fn js_real_storage_status_matches_its_schema() {
    let host = Host::new("js-storage");
    let storage_toml = host.dir.join("etc/storage.toml");

    // No storage.toml: a local directory at /vz/private, whatever this host has there.
    let output = host.vroot(&["storage", "status", "--json"]);
    assert_valid("storage-status", &json_of(&output));

    // A local bind mount: not mounted, then mounted and healthy.
    let export = host.dir.join("export");
    std::fs::create_dir_all(&export).unwrap();
    let target = host.dir.join("vz");
    std::fs::write(
        &storage_toml,
        format!(
            "[storage]\ntype = \"local\"\nsource = \"{}\"\ntarget = \"{}\"\n",
            export.display(),
            target.display()
        ),
    )
    .unwrap();
    let status = vroot_json(&host, &["storage", "status", "--json"], &[1]);
    assert_valid("storage-status", &status);
    assert_eq!(status["health"], "not_mounted");
    host.ok(&["storage", "mount"]);
    let status = vroot_json(&host, &["storage", "status", "--json"], &[0]);
    host.ok(&["storage", "umount"]);
    assert_valid("storage-status", &status);
    assert_eq!(status["health"], "healthy");
    assert_eq!(status["type"], "local");

    // A network storage that is not mounted.
    std::fs::write(
        &storage_toml,
        format!(
            "[storage]\ntype = \"9p\"\nsource = \"js-no-such-tag\"\ntarget = \"{}\"\n",
            target.display()
        ),
    )
    .unwrap();
    let status = vroot_json(&host, &["storage", "status", "--json"], &[1]);
    assert_valid("storage-status", &status);
    assert_eq!(status["type"], "9p");
}
