//! A container's per-host layer on this host: where it is, its plan, its
//! template variables, and filling or reading it. `start`, `spec` and the
//! `vroot overlay` commands all go through here.

use std::path::{Path, PathBuf};

use vroot_overlays::layout::LayerPaths;
use vroot_overlays::plan::Plan;
use vroot_overlays::template::Variables;
use vroot_overlays::tree::Tree;

use crate::config::ContainerConfig;
use crate::paths::HostPaths;

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("container {name}: {source}")]
    Location {
        name: String,
        source: vroot_overlays::location::LocationError,
    },
    #[error("container {name}: cannot open the root {root}: {source}")]
    Root {
        name: String,
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("container {name}: {config}: {source}")]
    Plan {
        name: String,
        config: PathBuf,
        source: vroot_overlays::plan::PlanError,
    },
    #[error("container {name}: per-host layer: {source}")]
    Prepare {
        name: String,
        source: Box<vroot_overlays::prepare::PrepareError>,
    },
    #[error("container {name}: per-host layer: {source}")]
    Status {
        name: String,
        source: vroot_overlays::status::StatusError,
    },
    #[error("container {name}: {path} is not a `gen` entry; `vroot overlay status {name}` lists the entries")]
    NotGenerated { name: String, path: String },
    #[error("container {name}: {path}: {message}")]
    Render {
        name: String,
        path: String,
        message: String,
    },
    #[error("container {name}: {what}: {source}")]
    Io {
        name: String,
        what: String,
        source: std::io::Error,
    },
}

/// The layer directory of a container: `[overlay] dir`, or vroot's default.
pub fn layer_paths(config: &ContainerConfig, paths: &HostPaths) -> LayerPaths {
    LayerPaths::new(
        config
            .overlay
            .dir
            .as_deref()
            .unwrap_or(&paths.host_layer_dir(&config.name)),
    )
}

/// Refuses a layer that is not host-local, and plans the entries.
pub fn plan(config: &ContainerConfig, paths: &HostPaths) -> Result<(LayerPaths, Plan), LayerError> {
    let layer = layer_paths(config, paths);
    vroot_overlays::location::check_host_local(&layer.dir, &config.root).map_err(|source| {
        LayerError::Location {
            name: config.name.clone(),
            source,
        }
    })?;
    let shared = open_root(config)?;
    let layer_root = Tree::open(&layer.root()).ok();
    let plan = vroot_overlays::plan::plan(&config.overlay, &shared, layer_root.as_ref()).map_err(
        |source| LayerError::Plan {
            name: config.name.clone(),
            config: config.source.clone(),
            source,
        },
    )?;
    Ok((layer, plan))
}

/// Refuses a missing template before anything is made.
pub fn check_templates(config: &ContainerConfig) -> Result<(), LayerError> {
    vroot_overlays::plan::check_templates(&config.overlay).map_err(|source| LayerError::Plan {
        name: config.name.clone(),
        config: config.source.clone(),
        source,
    })
}

fn open_root(config: &ContainerConfig) -> Result<Tree, LayerError> {
    Tree::open(&config.root).map_err(|source| LayerError::Root {
        name: config.name.clone(),
        root: config.root.clone(),
        source,
    })
}

/// The variables `gen` templates can use.
pub fn variables(config: &ContainerConfig, host_name: &str) -> Variables {
    let machine_id = crate::spec::machine_id(host_name, &config.name);
    let facts = crate::host_facts::gather(config);
    let uname = nix::sys::utsname::uname().ok();
    let text = |value: Option<&std::ffi::OsStr>| {
        value
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let interfaces = crate::spec::resolved_interfaces(config, &machine_id);
    let mut variables: Variables = config.overlay.vars.clone();
    variables.extend(crate::network::variables::variables(
        &interfaces,
        crate::network::host_link_mac,
    ));
    for (key, value) in [
        ("name", config.name.clone()),
        ("hostname", config.hostname.clone()),
        ("container_uuid", crate::spec::uuid_form(&machine_id)),
        ("machine_id", machine_id),
        ("host_name", host_name.to_string()),
        ("host_kernel", text(uname.as_ref().map(|u| u.release()))),
        ("host_arch", text(uname.as_ref().map(|u| u.machine()))),
        ("host_addresses", facts.addresses.join(" ")),
    ] {
        variables.insert(key.to_string(), value);
    }
    variables
}

/// Fills the layer as `plan` says (creating it if needed).
pub fn prepare(
    config: &ContainerConfig,
    layer: &LayerPaths,
    plan: &Plan,
    host_name: &str,
) -> Result<Vec<vroot_overlays::prepare::Action>, LayerError> {
    let shared = open_root(config)?;
    let variables = variables(config, host_name);
    let key_comment = format!("root@{}", config.hostname);
    let inputs = vroot_overlays::prepare::Inputs {
        variables: &variables,
        key_comment: &key_comment,
    };
    vroot_overlays::prepare::prepare(plan, &shared, layer, &inputs).map_err(|source| {
        LayerError::Prepare {
            name: config.name.clone(),
            source: Box::new(source),
        }
    })
}

pub fn status(
    config: &ContainerConfig,
    paths: &HostPaths,
    host_name: &str,
) -> Result<vroot_overlays::status::LayerStatus, LayerError> {
    let (layer, plan) = plan(config, paths)?;
    let shared = open_root(config)?;
    vroot_overlays::status::status(&plan, &shared, &layer, &variables(config, host_name)).map_err(
        |source| LayerError::Status {
            name: config.name.clone(),
            source,
        },
    )
}

/// What the `gen` entry `path` renders to now. A file inside a directory
/// template is found too.
pub fn render(
    config: &ContainerConfig,
    path: &str,
    host_name: &str,
) -> Result<Vec<u8>, LayerError> {
    let not_generated = || LayerError::NotGenerated {
        name: config.name.clone(),
        path: path.to_string(),
    };
    let entry = config
        .overlay
        .entries
        .iter()
        .filter(|entry| entry.covers(path))
        // The most specific entry decides, as in the layer itself: a file
        // entry inside a built-in directory entry is that file's.
        .max_by_key(|entry| Path::new(&entry.path).components().count())
        .filter(|entry| entry.mode == vroot_overlays::manifest::Mode::Gen)
        .ok_or_else(not_generated)?;
    let variables = variables(config, host_name);
    let render_error = |message: String| LayerError::Render {
        name: config.name.clone(),
        path: path.to_string(),
        message,
    };
    let Some(template) = &entry.template else {
        return match path {
            "/etc/machine-id" => Ok(format!("{}\n", variables["machine_id"]).into_bytes()),
            "/etc/hostname" => Ok(format!("{}\n", variables["hostname"]).into_bytes()),
            _ => Err(render_error(
                "has no template: it is the shared root's copy, kept per host".into(),
            )),
        };
    };
    let below = Path::new(path)
        .strip_prefix(&entry.path)
        .unwrap_or(Path::new(""));
    let source = if below.as_os_str().is_empty() {
        template.clone()
    } else {
        template.join(below)
    };
    let text = std::fs::read(&source)
        .map_err(|error| render_error(format!("cannot read {}: {error}", source.display())))?;
    vroot_overlays::template::render_bytes(&text, &variables)
        .map_err(|error| render_error(format!("template {}: {error}", source.display())))
}

/// `vroot overlay init`: creates and fills the layer without starting the
/// container. Refused while a container runs on the layer.
pub fn init(
    config: &ContainerConfig,
    paths: &HostPaths,
    host_name: &str,
) -> Result<Vec<vroot_overlays::prepare::Action>, LayerError> {
    let (layer, plan) = plan(config, paths)?;
    let io = |what: String| {
        let name = config.name.clone();
        move |source| LayerError::Io {
            name: name.clone(),
            what: what.clone(),
            source,
        }
    };
    std::fs::create_dir_all(&layer.dir).map_err(io(format!("create {}", layer.dir.display())))?;
    let lock = crate::lock::try_lock(&layer.lock(), true).map_err(|error| LayerError::Io {
        name: config.name.clone(),
        what: format!("lock {}", layer.lock().display()),
        source: std::io::Error::other(error.to_string()),
    })?;
    if lock.is_none() {
        return Err(LayerError::Io {
            name: config.name.clone(),
            what: format!("use {}", layer.dir.display()),
            source: std::io::Error::other(
                "a container runs on this layer; stop it first (start fills the layer too)",
            ),
        });
    }
    prepare(config, &layer, &plan, host_name)
}

/// `vroot overlay diff`: the differences between two containers' layers.
pub fn diff(
    first: &ContainerConfig,
    second: &ContainerConfig,
    paths: &HostPaths,
) -> Result<Vec<vroot_overlays::diff::Difference>, LayerError> {
    let open = |config: &ContainerConfig| {
        let root = layer_paths(config, paths).root();
        Tree::open(&root).map_err(|source| LayerError::Io {
            name: config.name.clone(),
            what: format!(
                "open its per-host layer {} (run `vroot overlay init {}` first)",
                root.display(),
                config.name
            ),
            source,
        })
    };
    let (first_tree, second_tree) = (open(first)?, open(second)?);
    vroot_overlays::diff::diff(&first_tree, &second_tree).map_err(|source| LayerError::Io {
        name: first.name.clone(),
        what: format!("compare its per-host layer with {}'s", second.name),
        source,
    })
}
