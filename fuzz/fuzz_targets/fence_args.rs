//! The fence agent `fence_vroot` end to end through `run_fence_agent`: its
//! two input parsers (the `key=value` lines Pacemaker writes on stdin, and
//! getopt-style arguments) and the action dispatch behind them, over a fake
//! host whose containers live in memory.
//!
//! An input without a NUL byte is stdin (raw bytes: invalid UTF-8 is an
//! input error the agent must report, not a panic). An input with NUL bytes
//! is the command line, one argument per NUL-separated piece, e.g.
//! `-o\0off\0-n\0web`.
//!
//! The fake host's containers are chosen so that the plug names in the
//! seeds reach every branch: `web` runs, `db` is stopped, `old` is fenced,
//! `broken` has an invalid config, `slow` times out, `stuck` fails, and
//! `liar` reports success without doing anything; other names are unknown.
//!
//! Besides "never panics", the agent must never report success for a fence
//! it could not verify: whenever the fence of `liar` was attempted, the exit
//! code is non-zero.

#![no_main]

use std::cell::{Cell, RefCell};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use vroot_bootstrap::agents::{
    run_fence_agent, ContainerControl, ControlFailure, FailureKind, Power,
};

fuzz_target!(|data: &[u8]| {
    let host = FakeHost::new();
    let args: Vec<String> = if data.contains(&0) {
        data.split(|&byte| byte == 0)
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect()
    } else {
        Vec::new()
    };
    let mut stdin: &[u8] = if args.is_empty() { data } else { &[] };
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_fence_agent(&args, &mut stdin, &host, &mut out, &mut err);

    assert!(matches!(code, 0..=2), "exit code {code}");
    if host.fenced_liar.get() {
        assert_ne!(code, 0, "reported success for an unverified fence");
    }
});

/// The outcome an operation has on the fake host.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Does what it is asked.
    Works,
    /// Fails with this kind.
    Fails(FailureKind),
    /// Returns `Ok` and changes nothing.
    Lies,
}

struct FakeHost {
    containers: RefCell<Vec<(String, Power)>>,
    fenced_liar: Cell<bool>,
}

impl FakeHost {
    fn new() -> Self {
        let containers = [
            ("web", Power::On),
            ("db", Power::Off),
            ("old", Power::Fenced),
            ("broken", Power::Off),
            ("slow", Power::On),
            ("stuck", Power::Off),
            ("liar", Power::On),
        ];
        FakeHost {
            containers: RefCell::new(
                containers
                    .into_iter()
                    .map(|(name, power)| (name.to_string(), power))
                    .collect(),
            ),
            fenced_liar: Cell::new(false),
        }
    }

    fn state(&self, name: &str) -> Option<Power> {
        self.containers
            .borrow()
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, power)| *power)
    }

    fn behaviour(name: &str) -> Behaviour {
        match name {
            "slow" => Behaviour::Fails(FailureKind::Timeout),
            "stuck" => Behaviour::Fails(FailureKind::Failed),
            "broken" => Behaviour::Fails(FailureKind::NotConfigured),
            "liar" => Behaviour::Lies,
            _ => Behaviour::Works,
        }
    }

    fn known(&self, name: &str) -> Result<Power, ControlFailure> {
        self.state(name).ok_or_else(|| {
            ControlFailure::new(
                FailureKind::UnknownContainer,
                format!("no container '{name}' on this host"),
            )
        })
    }

    fn change(&self, name: &str, to: Power) -> Result<(), ControlFailure> {
        self.known(name)?;
        match Self::behaviour(name) {
            Behaviour::Works => {
                for (known, power) in self.containers.borrow_mut().iter_mut() {
                    if known == name {
                        *power = to;
                    }
                }
                Ok(())
            }
            Behaviour::Fails(kind) => Err(ControlFailure::new(kind, format!("{name} went wrong"))),
            Behaviour::Lies => Ok(()),
        }
    }
}

impl ContainerControl for FakeHost {
    fn list(&self) -> Result<Vec<(String, Power)>, ControlFailure> {
        // Unsorted on purpose: the agent sorts.
        Ok(self.containers.borrow().iter().rev().cloned().collect())
    }

    fn power(&self, name: &str) -> Result<Power, ControlFailure> {
        self.known(name)
    }

    fn fence_off(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        if name == "liar" {
            self.fenced_liar.set(true);
        }
        self.change(name, Power::Fenced)
    }

    fn power_on(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        self.change(name, Power::On)
    }

    fn stop(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        self.change(name, Power::Off)
    }

    fn start(&self, name: &str, _timeout: Duration) -> Result<(), ControlFailure> {
        if self.known(name)? == Power::Fenced {
            return Err(ControlFailure::new(FailureKind::Failed, "fenced"));
        }
        self.change(name, Power::On)
    }

    fn validate(&self, name: &str) -> Result<(), ControlFailure> {
        self.known(name)?;
        match Self::behaviour(name) {
            Behaviour::Fails(FailureKind::NotConfigured) => Err(ControlFailure::new(
                FailureKind::NotConfigured,
                format!("/etc/vroot/{name}.toml: unknown key"),
            )),
            _ => Ok(()),
        }
    }

    fn monitor(&self) -> Result<(), ControlFailure> {
        Ok(())
    }

    fn trouble(&self, name: &str) -> Option<String> {
        (name == "stuck").then(|| "its storage hangs".to_string())
    }

    /// The `delay` is recorded by not sleeping: a fuzz run must not wait.
    fn pause(&self, _duration: Duration) {}
}
