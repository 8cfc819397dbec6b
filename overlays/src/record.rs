//! `layer.json`: what vroot did to a per-host layer that the files alone do
//! not tell: when each seed was copied and what its shared original was then,
//! and when each secret was generated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The record's file name in the layer directory.
pub const RECORD_FILE: &str = "layer.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRecord {
    /// The shared original's digest when it was copied.
    pub digest: String,
    /// Seconds since the epoch.
    pub copied_at: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub version: u32,
    #[serde(default)]
    pub seeds: BTreeMap<String, SeedRecord>,
    /// Path → seconds since the epoch.
    #[serde(default)]
    pub secrets: BTreeMap<String, u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is damaged ({source}); move it away and run `vroot overlay init` again")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

impl LayerRecord {
    /// Reads the record of the layer in `layer_dir`; an empty one when the
    /// layer has none yet.
    pub fn load(layer_dir: &Path) -> Result<LayerRecord, RecordError> {
        let path = layer_dir.join(RECORD_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| RecordError::Parse { path, source })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(LayerRecord {
                version: 1,
                ..LayerRecord::default()
            }),
            Err(source) => Err(RecordError::Read { path, source }),
        }
    }

    /// Writes the record durably: it is the only memory of which shared
    /// original each seed came from.
    pub fn save(&self, layer_dir: &Path) -> Result<(), RecordError> {
        let path = layer_dir.join(RECORD_FILE);
        let write = || -> std::io::Result<()> {
            let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            let temporary = layer_dir.join(format!(".{RECORD_FILE}.new"));
            let mut file = std::fs::File::create(&temporary)?;
            std::io::Write::write_all(&mut file, &json)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            std::fs::File::open(layer_dir)?.sync_all()
        };
        write().map_err(|source| RecordError::Write {
            path: path.clone(),
            source,
        })
    }
}
