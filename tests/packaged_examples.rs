//! The example configs the package installs under
//! /usr/share/doc/vroot/examples parse with the real parsers, so an admin
//! who copies one starts from a valid file.

use std::path::Path;

use vroot_bootstrap::storage::StorageConfig;
use vroot_runtime::config::ContainerConfig;

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_container_example_parses() {
    let config = ContainerConfig::parse(
        "web",
        Path::new("/etc/vroot/web.toml"),
        &example("web.toml"),
        "host1",
    )
    .unwrap();
    assert_eq!(config.root, Path::new("/vz/private/web"));
    assert_eq!(config.hostname, "web-node1");
    assert_eq!(config.network.len(), 1);
}

#[test]
fn the_storage_example_parses() {
    let storage = StorageConfig::from_toml_str(
        &example("storage.toml"),
        Path::new("/etc/vroot/storage.toml"),
    )
    .unwrap();
    assert_eq!(storage.source.as_deref(), Some("192.0.2.1:/srv/export"));
}
