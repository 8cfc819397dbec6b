//! The `source` text of each storage type, taken apart into the pieces the
//! kernel needs: the server's address for NFS and CIFS, the monitors for
//! CephFS. Parsing only: nothing here resolves a name (the runtime does no
//! DNS or NSS lookups; a host name needs a mount `helper`).

use std::net::IpAddr;
use std::path::{Component, Path};

use super::fs_type::StorageType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    fn parse(text: &str) -> Result<Host, String> {
        let unbracketed = text
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'));
        if let Some(inner) = unbracketed {
            return inner
                .parse::<std::net::Ipv6Addr>()
                .map(|address| Host::Ip(IpAddr::V6(address)))
                .map_err(|_| format!("`{text}` is not an IPv6 address"));
        }
        if let Ok(address) = text.parse::<IpAddr>() {
            return Ok(Host::Ip(address));
        }
        if is_host_name(text) {
            Ok(Host::Name(text.to_string()))
        } else {
            Err(format!("`{text}` is neither an IP address nor a host name"))
        }
    }
}

fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// What a valid `source` names, per storage type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedSource {
    /// `HOST:/path` (nfs, glusterfs) or `//HOST/share` (cifs).
    Server(Host),
    /// CephFS monitors (`MON[,MON...]:/path`); empty for the newer
    /// `user@fsid.fs=/path` form, whose monitors come from `mon_addr=`.
    Monitors(Vec<Host>),
    /// A virtio tag (9p, virtiofs).
    Tag,
    /// An absolute path: a block device (gfs2, ocfs2) or a directory (local).
    Path,
}

impl ParsedSource {
    /// Host names in the source: these need a helper that can resolve them.
    pub(crate) fn host_names(&self) -> Vec<&str> {
        let hosts: &[Host] = match self {
            ParsedSource::Server(host) => std::slice::from_ref(host),
            ParsedSource::Monitors(hosts) => hosts,
            ParsedSource::Tag | ParsedSource::Path => &[],
        };
        hosts
            .iter()
            .filter_map(|host| match host {
                Host::Name(name) => Some(name.as_str()),
                Host::Ip(_) => None,
            })
            .collect()
    }

    /// The server's IP address, for the kernel's `addr=`/`ip=` option.
    pub(crate) fn server_ip(&self) -> Option<IpAddr> {
        match self {
            ParsedSource::Server(Host::Ip(address)) => Some(*address),
            _ => None,
        }
    }
}

/// Checks `source` for a storage type; the error says what form is expected.
pub(crate) fn parse_source(
    storage_type: StorageType,
    source: &str,
) -> Result<ParsedSource, String> {
    if source.is_empty() {
        return Err("must not be empty".into());
    }
    if source.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{source}` must not contain spaces or control characters"
        ));
    }
    match storage_type {
        StorageType::Nfs | StorageType::Glusterfs => {
            parse_host_path(source).map(ParsedSource::Server)
        }
        StorageType::Cifs => parse_unc(source).map(ParsedSource::Server),
        StorageType::Cephfs => parse_ceph(source).map(ParsedSource::Monitors),
        StorageType::NineP | StorageType::Virtiofs => {
            if source.contains(',') || source.contains('/') {
                Err(format!(
                    "`{source}` must be the device's mount tag (no `/` or `,`), e.g. \"vz\""
                ))
            } else {
                Ok(ParsedSource::Tag)
            }
        }
        StorageType::Gfs2 | StorageType::Ocfs2 => {
            check_absolute_normal_path(source, "the block device, e.g. \"/dev/mapper/vz\"")
                .map(|()| ParsedSource::Path)
        }
        StorageType::Local => {
            check_absolute_normal_path(source, "a directory on this host, e.g. \"/srv/vz\"")
                .map(|()| ParsedSource::Path)
        }
    }
}

/// `192.0.2.1:/export`, `[2001:db8::1]:/export` or `server.example:/export`.
fn parse_host_path(source: &str) -> Result<Host, String> {
    let expected =
        "must be HOST:/PATH, e.g. \"192.0.2.1:/export/vz\" or \"[2001:db8::1]:/export/vz\"";
    let (host, path) = if source.starts_with('[') {
        let end = source
            .find("]:")
            .ok_or_else(|| format!("`{source}` {expected}"))?;
        (&source[..=end], &source[end + 2..])
    } else {
        let (host, path) = source
            .split_once(':')
            .ok_or_else(|| format!("`{source}` {expected}"))?;
        if path.contains(':') && !path.starts_with('/') {
            return Err(format!(
                "`{source}`: write an IPv6 address in brackets, e.g. \"[2001:db8::1]:/export/vz\""
            ));
        }
        (host, path)
    };
    if !path.starts_with('/') {
        return Err(format!("`{source}` {expected}"));
    }
    Host::parse(host).map_err(|reason| format!("{reason}; {expected}"))
}

/// `//192.0.2.1/share`, `//[2001:db8::1]/share` or `//server.example/share`.
fn parse_unc(source: &str) -> Result<Host, String> {
    let expected = "must be //HOST/SHARE, e.g. \"//192.0.2.1/vz\"";
    let rest = source
        .strip_prefix("//")
        .ok_or_else(|| format!("`{source}` {expected}"))?;
    let (host, share) = rest
        .split_once('/')
        .ok_or_else(|| format!("`{source}` {expected}"))?;
    if share.is_empty() {
        return Err(format!("`{source}` {expected}"));
    }
    Host::parse(host).map_err(|reason| format!("{reason}; {expected}"))
}

/// `192.0.2.1:6789,192.0.2.2:/path`, or `user@fsid.fs=/path`.
fn parse_ceph(source: &str) -> Result<Vec<Host>, String> {
    let expected =
        "must be MONITOR[,MONITOR...]:/PATH, e.g. \"192.0.2.1:6789:/\", or NAME@FSID.FS=/PATH";
    if source.contains('@') && source.contains("=/") {
        return Ok(Vec::new());
    }
    let split = source
        .rfind(":/")
        .ok_or_else(|| format!("`{source}` {expected}"))?;
    let monitors = &source[..split];
    if monitors.is_empty() {
        return Err(format!("`{source}` {expected}"));
    }
    monitors
        .split(',')
        .map(|monitor| parse_monitor(monitor).map_err(|reason| format!("{reason}; {expected}")))
        .collect()
}

/// `ADDRESS[:PORT]` with an IPv6 address in brackets.
fn parse_monitor(monitor: &str) -> Result<Host, String> {
    let (host, port) = if monitor.starts_with('[') {
        match monitor.find(']') {
            Some(end) => (&monitor[..=end], monitor[end + 1..].strip_prefix(':')),
            None => return Err(format!("monitor `{monitor}` lacks its `]`")),
        }
    } else {
        match monitor.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (monitor, None),
        }
    };
    if let Some(port) = port {
        port.parse::<u16>()
            .map_err(|_| format!("monitor `{monitor}` has a bad port `{port}`"))?;
    }
    Host::parse(host)
}

fn check_absolute_normal_path(source: &str, what: &str) -> Result<(), String> {
    if !source.starts_with('/') {
        return Err(format!("`{source}` must be an absolute path: {what}"));
    }
    if !is_normal_path(Path::new(source)) {
        return Err(format!(
            "`{source}` must be a normalised path (no `.`, `..`, `//` or trailing `/`)"
        ));
    }
    Ok(())
}

/// Absolute, with no `.` or `..` and written the way the kernel reports it
/// (no doubled or trailing slashes), so that it can be compared with
/// `/proc/self/mountinfo` without resolving anything on disk.
pub(crate) fn is_normal_path(path: &Path) -> bool {
    let rebuilt: std::path::PathBuf = path.components().collect();
    path.is_absolute()
        && path
            .components()
            .all(|component| matches!(component, Component::RootDir | Component::Normal(_)))
        && rebuilt.as_os_str() == path.as_os_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(storage_type: StorageType, source: &str) -> Result<ParsedSource, String> {
        parse_source(storage_type, source)
    }

    #[test]
    fn nfs_sources() {
        assert_eq!(
            server(StorageType::Nfs, "192.0.2.1:/export/vz")
                .unwrap()
                .server_ip(),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(
            server(StorageType::Nfs, "[2001:db8::1]:/x")
                .unwrap()
                .server_ip(),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            server(StorageType::Nfs, "nfs.example:/x")
                .unwrap()
                .host_names(),
            vec!["nfs.example"]
        );
        assert!(server(StorageType::Nfs, "192.0.2.1/export")
            .unwrap_err()
            .contains("HOST:/PATH"));
        assert!(server(StorageType::Nfs, "2001:db8::1:/x")
            .unwrap_err()
            .contains("brackets"));
        assert!(server(StorageType::Nfs, "bad_host:/x").is_err());
        assert!(server(StorageType::Nfs, "192.0.2.1:export").is_err());
    }

    #[test]
    fn cifs_and_ceph_sources() {
        assert_eq!(
            server(StorageType::Cifs, "//192.0.2.1/vz")
                .unwrap()
                .server_ip(),
            Some("192.0.2.1".parse().unwrap())
        );
        assert!(server(StorageType::Cifs, "192.0.2.1:/vz").is_err());
        assert_eq!(
            server(StorageType::Cephfs, "192.0.2.1:6789,[2001:db8::2]:3300:/")
                .unwrap()
                .host_names(),
            Vec::<&str>::new()
        );
        assert_eq!(
            server(StorageType::Cephfs, "mon.example:/vz")
                .unwrap()
                .host_names(),
            vec!["mon.example"]
        );
        assert_eq!(
            server(StorageType::Cephfs, "admin@b3acfc0d.cephfs=/"),
            Ok(ParsedSource::Monitors(Vec::new()))
        );
        assert!(server(StorageType::Cephfs, "192.0.2.1:99999:/").is_err());
    }

    #[test]
    fn tags_and_paths() {
        assert_eq!(server(StorageType::NineP, "vz"), Ok(ParsedSource::Tag));
        assert!(server(StorageType::Virtiofs, "a/b").is_err());
        assert_eq!(
            server(StorageType::Gfs2, "/dev/sdb"),
            Ok(ParsedSource::Path)
        );
        assert!(server(StorageType::Ocfs2, "sdb").is_err());
        assert!(server(StorageType::Local, "/srv/vz/").is_err());
        assert!(server(StorageType::Local, "/srv/../vz").is_err());
        assert!(server(StorageType::Local, "/srv with space").is_err());
    }

    #[test]
    fn normal_paths() {
        assert!(is_normal_path(Path::new("/vz/private")));
        assert!(!is_normal_path(Path::new("/vz//private")));
        assert!(!is_normal_path(Path::new("/vz/./private")));
        assert!(!is_normal_path(Path::new("vz/private")));
        assert!(is_normal_path(Path::new("/")));
    }
}
