//! The `[security]` section: the system-call filter, on by default, with
//! calls taken out of or added to its deny list.

use serde::Deserialize;

use crate::seccomp;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSecurity {
    #[serde(default = "on")]
    seccomp: bool,
    #[serde(default)]
    syscalls_allow: Vec<String>,
    #[serde(default)]
    syscalls_deny: Vec<String>,
}

fn on() -> bool {
    true
}

impl Default for FileSecurity {
    fn default() -> Self {
        FileSecurity {
            seccomp: true,
            syscalls_allow: Vec::new(),
            syscalls_deny: Vec::new(),
        }
    }
}

/// What the container's filter denies; `None` when it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityPolicy {
    pub seccomp_denied: Option<Vec<String>>,
}

impl Default for SecurityPolicy {
    fn default() -> Self {
        SecurityPolicy {
            seccomp_denied: Some(
                seccomp::DEFAULT_DENIED
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        }
    }
}

impl FileSecurity {
    /// The policy, or the offending key and why.
    pub fn validate(self) -> Result<SecurityPolicy, (&'static str, String)> {
        if !self.seccomp {
            if !self.syscalls_allow.is_empty() || !self.syscalls_deny.is_empty() {
                return Err((
                    "security.seccomp",
                    "is false, so syscalls_allow and syscalls_deny have no filter to change".into(),
                ));
            }
            return Ok(SecurityPolicy {
                seccomp_denied: None,
            });
        }
        for name in &self.syscalls_allow {
            if seccomp::table::find(name).is_some()
                && !seccomp::DEFAULT_DENIED.contains(&name.as_str())
            {
                return Err((
                    "security.syscalls_allow",
                    format!("`{name}` is not denied by default; there is nothing to allow"),
                ));
            }
        }
        let key = |name: &String| {
            if self.syscalls_allow.contains(name) {
                "security.syscalls_allow"
            } else {
                "security.syscalls_deny"
            }
        };
        let denied =
            seccomp::denied_names(&self.syscalls_allow, &self.syscalls_deny).map_err(|error| {
                match &error {
                    seccomp::SeccompError::Unknown(name) => (key(name), error.to_string()),
                    _ => ("security", error.to_string()),
                }
            })?;
        Ok(SecurityPolicy {
            seccomp_denied: Some(denied),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SecurityPolicy, (&'static str, String)> {
        toml::from_str::<FileSecurity>(text).unwrap().validate()
    }

    #[test]
    fn the_filter_is_on_by_default_and_can_be_adjusted_or_turned_off() {
        assert_eq!(parse("").unwrap(), SecurityPolicy::default());
        let relaxed =
            parse("syscalls_allow = [\"swapon\"]\nsyscalls_deny = [\"adjtimex\"]").unwrap();
        let names = relaxed.seccomp_denied.unwrap();
        assert!(!names.iter().any(|n| n == "swapon"));
        assert!(names.iter().any(|n| n == "adjtimex"));
        assert_eq!(parse("seccomp = false").unwrap().seccomp_denied, None);
    }

    #[test]
    fn bad_names_and_contradictions_name_their_key() {
        let (key, reason) = parse("syscalls_deny = [\"frobnicate\"]").unwrap_err();
        assert_eq!(key, "security.syscalls_deny");
        assert!(
            reason.contains("unknown system call `frobnicate`"),
            "{reason}"
        );
        let (key, reason) = parse("syscalls_allow = [\"adjtimex\"]").unwrap_err();
        assert_eq!(key, "security.syscalls_allow");
        assert!(reason.contains("not denied by default"), "{reason}");
        let (key, _) = parse("seccomp = false\nsyscalls_deny = [\"bpf\"]").unwrap_err();
        assert_eq!(key, "security.seccomp");
    }
}
