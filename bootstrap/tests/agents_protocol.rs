//! The fence and OCF agents' protocols, end to end through their entry
//! points, over a fake `ContainerControl` that records every call. The
//! metadata documents are validated with xmllint against the schemas that
//! Debian's `fence-agents` and `resource-agents` packages ship (installed
//! by scripts/install-deps.sh).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use vroot_bootstrap::agents::{
    fence_metadata, ocf_metadata, run_fence_agent, run_ocf_agent, ContainerControl, ControlFailure,
    FailureKind, Power,
};

/// fence-agents' RelaxNG schema for fence agent metadata (package `fence-agents`).
const FENCE_SCHEMA: &str = "/usr/share/cluster/relaxng/metadata.rng";
/// The OCF resource agent DTD that ocf-tester validates with (package `resource-agents`).
const OCF_DTD_DIR: &str = "/usr/share/resource-agents";

/// A host's containers in memory. Each operation can be made to fail, or
/// to "succeed" without doing anything (an implementation that lies), to
/// show that the agents verify instead of trusting.
#[derive(Default)]
struct FakeControl {
    containers: RefCell<BTreeMap<String, Power>>,
    calls: RefCell<Vec<String>>,
    failures: RefCell<BTreeMap<&'static str, ControlFailure>>,
    invalid_configs: BTreeSet<String>,
    lying: BTreeSet<&'static str>,
    troubled: BTreeMap<String, String>,
}

impl FakeControl {
    fn with(containers: &[(&str, Power)]) -> Self {
        let fake = FakeControl::default();
        for (name, power) in containers {
            fake.containers
                .borrow_mut()
                .insert(name.to_string(), *power);
        }
        fake
    }

    fn failing(self, operation: &'static str, kind: FailureKind) -> Self {
        self.failures.borrow_mut().insert(
            operation,
            ControlFailure::new(kind, format!("{operation} went wrong")),
        );
        self
    }

    fn troubled(mut self, name: &str, trouble: &str) -> Self {
        self.troubled.insert(name.to_string(), trouble.to_string());
        self
    }

    fn lying_about(mut self, operation: &'static str) -> Self {
        self.lying.insert(operation);
        self
    }

    fn state(&self, name: &str) -> Option<Power> {
        self.containers.borrow().get(name).copied()
    }

    fn set(&self, name: &str, power: Power) {
        self.containers.borrow_mut().insert(name.to_string(), power);
    }

    /// Every call but the state reads, which the agents make freely.
    fn changes(&self) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .filter(|call| !call.starts_with("power("))
            .cloned()
            .collect()
    }

    fn all_calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: String) {
        self.calls.borrow_mut().push(call);
    }

    /// The injected failure of `operation`, then whether the container exists.
    fn check(&self, operation: &'static str, name: &str) -> Result<(), ControlFailure> {
        if let Some(failure) = self.failures.borrow().get(operation) {
            return Err(failure.clone());
        }
        if self.state(name).is_none() {
            return Err(ControlFailure::new(
                FailureKind::UnknownContainer,
                format!("no container '{name}' on this host"),
            ));
        }
        Ok(())
    }

    fn change(&self, operation: &'static str, name: &str, to: Power) -> Result<(), ControlFailure> {
        self.check(operation, name)?;
        if !self.lying.contains(operation) {
            self.set(name, to);
        }
        Ok(())
    }
}

impl ContainerControl for FakeControl {
    fn list(&self) -> Result<Vec<(String, Power)>, ControlFailure> {
        self.record("list".into());
        if let Some(failure) = self.failures.borrow().get("list") {
            return Err(failure.clone());
        }
        // Deliberately unsorted: the agent sorts.
        Ok(self
            .containers
            .borrow()
            .iter()
            .rev()
            .map(|(name, power)| (name.clone(), *power))
            .collect())
    }

    fn power(&self, name: &str) -> Result<Power, ControlFailure> {
        self.record(format!("power({name})"));
        self.check("power", name)?;
        Ok(self.state(name).expect("checked"))
    }

    fn fence_off(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        self.record(format!("fence_off({name}, {timeout:?})"));
        self.change("fence_off", name, Power::Fenced)
    }

    fn power_on(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        self.record(format!("power_on({name}, {timeout:?})"));
        self.change("power_on", name, Power::On)
    }

    fn stop(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        self.record(format!("stop({name}, {timeout:?})"));
        self.change("stop", name, Power::Off)
    }

    fn start(&self, name: &str, timeout: Duration) -> Result<(), ControlFailure> {
        self.record(format!("start({name}, {timeout:?})"));
        if self.state(name) == Some(Power::Fenced) {
            return Err(ControlFailure::new(FailureKind::Failed, "fenced"));
        }
        self.change("start", name, Power::On)
    }

    fn validate(&self, name: &str) -> Result<(), ControlFailure> {
        self.record(format!("validate({name})"));
        self.check("validate", name)?;
        if self.invalid_configs.contains(name) {
            return Err(ControlFailure::new(
                FailureKind::NotConfigured,
                format!("/etc/vroot/{name}.toml: unknown key"),
            ));
        }
        Ok(())
    }

    fn monitor(&self) -> Result<(), ControlFailure> {
        self.record("monitor".into());
        match self.failures.borrow().get("monitor") {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    fn pause(&self, duration: Duration) {
        self.record(format!("pause({duration:?})"));
    }

    fn trouble(&self, name: &str) -> Option<String> {
        self.troubled.get(name).cloned()
    }
}

#[derive(Debug)]
struct Outcome {
    code: i32,
    out: String,
    err: String,
}

fn fence_stdin(control: &FakeControl, input: &str) -> Outcome {
    run_fence(control, &[], input)
}

fn fence_args(control: &FakeControl, args: &[&str]) -> Outcome {
    run_fence(control, args, "action=on\nplug=never-read\n")
}

fn run_fence(control: &FakeControl, args: &[&str], input: &str) -> Outcome {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_fence_agent(&args, &mut input.as_bytes(), control, &mut out, &mut err);
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn ocf(control: &FakeControl, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run_ocf_agent(&args, &env, control, &mut out, &mut err);
    Outcome {
        code,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

const WEB: &[(&str, &str)] = &[("OCF_RESKEY_name", "web")];

// ---------------------------------------------------------------- fence: input forms

#[test]
fn fence_stdin_form_with_port_alias_comments_and_unknown_keys() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_stdin(
        &control,
        "# written by the cluster\n\n  agent=fence_vroot\nport=web\naction=off\npower-timeout=3\nipaddr=10.0.0.1\n",
    );
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(outcome.out, "Success: Powered OFF\n");
    assert!(outcome.err.contains("Ignoring unknown option 'ipaddr'"));
    assert_eq!(control.changes(), ["fence_off(web, 3s)"]);
    assert_eq!(control.state("web"), Some(Power::Fenced));
}

#[test]
fn fence_stdin_dashes_and_underscores_are_interchangeable() {
    for key in ["power_timeout", "power-timeout"] {
        let control = FakeControl::with(&[("web", Power::On)]);
        let outcome = fence_stdin(&control, &format!("action=off\nplug=web\n{key}=7\n"));
        assert_eq!(outcome.code, 0, "{key}: {outcome:?}");
        assert_eq!(control.changes(), ["fence_off(web, 7s)"], "{key}");
    }
}

#[test]
fn fence_stdin_uses_nodename_without_a_plug_and_prefers_the_plug() {
    let control = FakeControl::with(&[("web", Power::On), ("node1", Power::On)]);
    assert_eq!(
        fence_stdin(&control, "action=off\nnodename=node1\n").code,
        0
    );
    assert_eq!(control.state("node1"), Some(Power::Fenced));
    assert_eq!(
        fence_stdin(&control, "action=off\nnodename=node1\nport=web\n").code,
        0
    );
    assert_eq!(control.state("web"), Some(Power::Fenced));
}

#[test]
fn fence_stdin_default_action_is_reboot() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_stdin(&control, "plug=web\n");
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(outcome.out, "Success: Rebooted\n");
}

#[test]
fn fence_command_line_forms() {
    for args in [
        &["-o", "off", "-n", "web"][..],
        &["--action=off", "--plug=web"],
        &["--action", "off", "--port", "web"],
        &["-ooff", "-nweb", "--power-timeout=10"],
    ] {
        let control = FakeControl::with(&[("web", Power::On)]);
        let outcome = fence_args(&control, args);
        assert_eq!(outcome.code, 0, "{args:?}: {outcome:?}");
        assert_eq!(outcome.out, "Success: Powered OFF\n", "{args:?}");
        // With arguments, stdin is not read (it names another action and plug).
        assert_eq!(control.changes(), ["fence_off(web, 10s)"], "{args:?}");
    }
}

#[test]
fn fence_parse_errors_exit_1_and_point_to_help() {
    let control = FakeControl::with(&[("web", Power::On)]);
    for args in [
        &["--bogus"][..],
        &["-o"],
        &["off", "web"],
        &["-o", "off", "-n", "web", "--power-timeout=soon"],
        &["-o", "off", "-n", "web", "--power-timeout=0"],
    ] {
        let outcome = fence_args(&control, args);
        assert_eq!(outcome.code, 1, "{args:?}");
        assert!(
            outcome.err.contains("Please use '-h' for usage"),
            "{args:?}"
        );
    }
    assert!(control.changes().is_empty());
}

#[test]
fn fence_bad_action_exits_1_with_a_message() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_stdin(&control, "action=explode\nplug=web\n");
    assert_eq!(outcome.code, 1);
    assert!(outcome
        .err
        .contains("Failed: Unrecognised action 'explode'"));
    let outcome = fence_args(&control, &["-o", "explode", "-n", "web"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("Unrecognised action"));
    assert!(control.all_calls().is_empty());
}

#[test]
fn fence_help_and_version() {
    let control = FakeControl::default();
    for args in [&["-h"][..], &["--help"]] {
        let outcome = fence_args(&control, args);
        assert_eq!(outcome.code, 0);
        assert!(outcome.out.starts_with("Usage:"));
        assert!(outcome.out.contains("-n, --plug=[id]"));
        assert!(outcome.out.contains("--power-timeout=[seconds]"));
    }
    let outcome = fence_args(&control, &["-V"]);
    assert_eq!(outcome.code, 0);
    assert!(outcome.out.starts_with("fence_vroot "));
    assert!(control.all_calls().is_empty());
}

// ---------------------------------------------------------------- fence: actions

#[test]
fn fence_status_exit_codes() {
    let control = FakeControl::with(&[
        ("up", Power::On),
        ("down", Power::Off),
        ("fenced", Power::Fenced),
    ]);
    let on = fence_args(&control, &["-o", "status", "-n", "up"]);
    assert_eq!((on.code, on.out.as_str()), (0, "Status: ON\n"));
    let off = fence_args(&control, &["-o", "status", "-n", "down"]);
    assert_eq!((off.code, off.out.as_str()), (2, "Status: OFF\n"));
    let fenced = fence_args(&control, &["-o", "status", "-n", "fenced"]);
    assert_eq!((fenced.code, fenced.out.as_str()), (2, "Status: OFF\n"));
    let unknown = fence_args(&control, &["-o", "status", "-n", "ghost"]);
    assert_eq!(unknown.code, 1);
    assert!(unknown.err.contains("plug is not available"));
    let broken = FakeControl::with(&[("up", Power::On)]).failing("power", FailureKind::Failed);
    assert_eq!(fence_args(&broken, &["-o", "status", "-n", "up"]).code, 1);
    assert!(control.changes().is_empty());
}

#[test]
fn fence_off_twice_is_already_off() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let first = fence_stdin(&control, "action=off\nplug=web\n");
    assert_eq!(
        (first.code, first.out.as_str()),
        (0, "Success: Powered OFF\n")
    );
    let second = fence_stdin(&control, "action=off\nplug=web\n");
    assert_eq!(
        (second.code, second.out.as_str()),
        (0, "Success: Already OFF\n")
    );
    assert_eq!(control.changes(), ["fence_off(web, 10s)"]);
}

#[test]
fn fence_off_puts_the_fence_up_on_a_stopped_container() {
    // Stopped is not fenced: anyone could start it again. `off` must leave
    // it unable to come back, so it fences it all the same.
    let control = FakeControl::with(&[("web", Power::Off)]);
    let outcome = fence_args(&control, &["-o", "off", "-n", "web"]);
    assert_eq!(
        (outcome.code, outcome.out.as_str()),
        (0, "Success: Powered OFF\n")
    );
    assert_eq!(control.changes(), ["fence_off(web, 10s)"]);
    assert_eq!(control.state("web"), Some(Power::Fenced));
}

#[test]
fn fence_off_failures_exit_1() {
    let failing =
        FakeControl::with(&[("web", Power::On)]).failing("fence_off", FailureKind::Failed);
    let outcome = fence_args(&failing, &["-o", "off", "-n", "web"]);
    assert_eq!(outcome.code, 1);
    assert!(
        outcome.err.contains("Failed: Unable to power OFF"),
        "{outcome:?}"
    );
    assert!(outcome.out.is_empty());

    let timing_out =
        FakeControl::with(&[("web", Power::On)]).failing("fence_off", FailureKind::Timeout);
    let outcome = fence_args(&timing_out, &["-o", "off", "-n", "web"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome
        .err
        .contains("Failed: Timed out waiting to power OFF"));

    let unknown = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_args(&unknown, &["-o", "off", "-n", "ghost"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("plug is not available"));
    assert!(unknown.changes().is_empty());
}

#[test]
fn fence_off_is_verified_not_trusted() {
    let control = FakeControl::with(&[("web", Power::On)]).lying_about("fence_off");
    let outcome = fence_args(&control, &["-o", "off", "-n", "web"]);
    assert_eq!(outcome.code, 1, "{outcome:?}");
    assert!(outcome.err.contains("Timed out waiting to power OFF"));
    assert!(outcome.err.contains("is running afterwards"));
}

#[test]
fn fence_needs_a_valid_target() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_stdin(&control, "action=off\n");
    assert_eq!(outcome.code, 1);
    assert!(outcome
        .err
        .contains("You have to enter plug number or machine identification"));
    let outcome = fence_stdin(&control, "action=off\nplug=../etc\n");
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("invalid container name"));
    assert!(control.all_calls().is_empty());
}

#[test]
fn fence_on_unfences_and_is_idempotent() {
    let control = FakeControl::with(&[("web", Power::Fenced)]);
    let first = fence_args(&control, &["-o", "on", "-n", "web", "--power-timeout=30"]);
    assert_eq!(
        (first.code, first.out.as_str()),
        (0, "Success: Powered ON\n")
    );
    let second = fence_args(&control, &["-o", "on", "-n", "web"]);
    assert_eq!(
        (second.code, second.out.as_str()),
        (0, "Success: Already ON\n")
    );
    assert_eq!(control.changes(), ["power_on(web, 30s)"]);

    let failing =
        FakeControl::with(&[("web", Power::Off)]).failing("power_on", FailureKind::Timeout);
    let outcome = fence_args(&failing, &["-o", "on", "-n", "web"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome
        .err
        .contains("Failed: Timed out waiting to power ON"));

    let lying = FakeControl::with(&[("web", Power::Off)]).lying_about("power_on");
    assert_eq!(fence_args(&lying, &["-o", "on", "-n", "web"]).code, 1);
}

#[test]
fn fence_reboot_is_off_then_on() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_args(&control, &["-o", "reboot", "-n", "web"]);
    assert_eq!(
        (outcome.code, outcome.out.as_str()),
        (0, "Success: Rebooted\n")
    );
    assert_eq!(
        control.changes(),
        ["fence_off(web, 10s)", "power_on(web, 10s)"]
    );
    assert_eq!(control.state("web"), Some(Power::On));
}

#[test]
fn fence_reboot_of_a_fenced_container_only_powers_on() {
    let control = FakeControl::with(&[("web", Power::Fenced)]);
    assert_eq!(fence_args(&control, &["-o", "reboot", "-n", "web"]).code, 0);
    assert_eq!(control.changes(), ["power_on(web, 10s)"]);
}

#[test]
fn fence_reboot_fails_only_when_off_fails() {
    let off_fails =
        FakeControl::with(&[("web", Power::On)]).failing("fence_off", FailureKind::Timeout);
    let outcome = fence_args(&off_fails, &["-o", "reboot", "-n", "web"]);
    assert_eq!(outcome.code, 1);
    assert_eq!(off_fails.changes(), ["fence_off(web, 10s)"]);

    // The fence-agents API: once off is verified the cluster can recover,
    // so a failing on is reported but does not fail the fence.
    let on_fails =
        FakeControl::with(&[("web", Power::On)]).failing("power_on", FailureKind::Failed);
    let outcome = fence_args(&on_fails, &["-o", "reboot", "-n", "web"]);
    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_eq!(outcome.out, "Success: Rebooted\n");
    assert!(outcome.err.contains("did not come back on"));
    assert_eq!(on_fails.state("web"), Some(Power::Fenced));
}

#[test]
fn fence_delay_waits_before_off_and_reboot_only() {
    let control = FakeControl::with(&[("web", Power::On)]);
    assert_eq!(
        fence_stdin(&control, "action=status\nplug=web\ndelay=3\n").code,
        0
    );
    assert!(control.changes().is_empty());
    assert_eq!(
        fence_stdin(&control, "action=off\nplug=web\ndelay=3\n").code,
        0
    );
    assert_eq!(control.changes(), ["pause(3s)", "fence_off(web, 10s)"]);
}

#[test]
fn fence_verbose_logs_to_stderr() {
    let control = FakeControl::with(&[("web", Power::On)]);
    let outcome = fence_stdin(&control, "action=off\nplug=web\nverbose=1\n");
    assert_eq!(outcome.code, 0);
    assert!(
        outcome.err.contains("fence_vroot: fencing 'web'"),
        "{outcome:?}"
    );
    let quiet = FakeControl::with(&[("web", Power::On)]);
    assert!(fence_stdin(&quiet, "action=off\nplug=web\n").err.is_empty());
}

#[test]
fn fence_list_and_list_status() {
    let control = FakeControl::with(&[
        ("web", Power::On),
        ("db", Power::Off),
        ("cache", Power::Fenced),
    ]);
    let list = fence_args(&control, &["-o", "list"]);
    assert_eq!((list.code, list.out.as_str()), (0, "cache,\ndb,\nweb,\n"));
    let status = fence_stdin(&control, "action=list-status\n");
    assert_eq!(
        (status.code, status.out.as_str()),
        (0, "cache,,OFF\ndb,,OFF\nweb,,ON\n")
    );
    let separated = fence_args(&control, &["-o", "list-status", "-C", ";"]);
    assert_eq!(separated.out, "cache;;OFF\ndb;;OFF\nweb;;ON\n");

    let failing = FakeControl::default().failing("list", FailureKind::Permission);
    let outcome = fence_args(&failing, &["-o", "list"]);
    assert_eq!(outcome.code, 1);
    assert!(outcome.out.is_empty());
}

#[test]
fn fence_monitor_checks_the_host() {
    let control = FakeControl::default();
    assert_eq!(fence_args(&control, &["-o", "monitor"]).code, 0);
    assert_eq!(control.changes(), ["monitor"]);
    let failing = FakeControl::default().failing("monitor", FailureKind::Failed);
    let outcome = fence_stdin(&failing, "action=monitor\n");
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("This host cannot fence"));
}

#[test]
fn fence_validate_all() {
    let mut control = FakeControl::with(&[("web", Power::On), ("bad", Power::Off)]);
    control.invalid_configs.insert("bad".into());
    assert_eq!(fence_stdin(&control, "action=validate-all\n").code, 0);
    assert_eq!(
        fence_stdin(&control, "action=validate-all\nport=web\n").code,
        0
    );
    assert_eq!(
        fence_stdin(&control, "action=validate-all\nport=bad\n").code,
        1
    );
    assert_eq!(
        fence_stdin(&control, "action=validate-all\nport=ghost\n").code,
        1
    );
    assert_eq!(
        fence_stdin(&control, "action=validate-all\npower_timeout=x\n").code,
        1
    );
    assert_eq!(
        control.changes(),
        ["validate(web)", "validate(bad)", "validate(ghost)"]
    );
}

#[test]
fn fence_metadata_and_manpage_print_the_metadata() {
    let control = FakeControl::default();
    for input in [
        "action=metadata\n",
        "action=manpage\n",
        "action=meta-data\n",
    ] {
        let outcome = fence_stdin(&control, input);
        assert_eq!(outcome.code, 0, "{input}");
        assert_eq!(outcome.out, fence_metadata(), "{input}");
    }
    assert!(control.all_calls().is_empty());
}

#[test]
fn fence_metadata_validates_against_fence_agents_schema() {
    let xml = fence_metadata();
    xmllint(&["--noout", "--relaxng", FENCE_SCHEMA, "-"], None, &xml);
}

#[test]
fn the_schema_checks_are_not_vacuous() {
    let args = ["--noout", "--relaxng", FENCE_SCHEMA, "-"];
    let without_vendor_url = fence_metadata().replace("<vendor-url></vendor-url>\n", "");
    assert!(xmllint_verdict(&args, None, &without_vendor_url).is_err());
    let dtd = format!("{OCF_DTD_DIR}/ra-api-1.dtd");
    let args = ["--noout", "--dtdvalid", dtd.as_str(), "-"];
    let bad_action = ocf_metadata().replace("name=\"validate-all\"", "name=\"frobnicate\"");
    assert!(xmllint_verdict(&args, None, &bad_action).is_err());
}

// ---------------------------------------------------------------- OCF

#[test]
fn ocf_start_and_stop_are_idempotent() {
    let control = FakeControl::with(&[("web", Power::Off)]);
    assert_eq!(ocf(&control, &["start"], WEB).code, 0);
    assert_eq!(ocf(&control, &["start"], WEB).code, 0);
    assert_eq!(ocf(&control, &["stop"], WEB).code, 0);
    assert_eq!(ocf(&control, &["stop"], WEB).code, 0);
    assert_eq!(
        control.changes(),
        [
            "validate(web)",
            "start(web, 85s)",
            "validate(web)",
            "stop(web, 115s)"
        ]
    );
}

#[test]
fn ocf_timeouts_come_from_the_operation() {
    let control = FakeControl::with(&[("web", Power::Off)]);
    let env = [
        ("OCF_RESKEY_name", "web"),
        ("OCF_RESKEY_CRM_meta_timeout", "30000"),
    ];
    assert_eq!(ocf(&control, &["start"], &env).code, 0);
    assert_eq!(ocf(&control, &["stop"], &env).code, 0);
    assert_eq!(
        control.changes(),
        ["validate(web)", "start(web, 27s)", "stop(web, 27s)"]
    );
}

#[test]
fn ocf_monitor_fails_a_running_container_whose_storage_hangs() {
    let control = FakeControl::with(&[("up", Power::On), ("down", Power::Off)])
        .troubled("up", "the storage under /vz/private/up is hung")
        .troubled("down", "the storage under /vz/private/down is hung");
    let outcome = ocf(&control, &["monitor"], &[("OCF_RESKEY_name", "up")]);
    assert_eq!(outcome.code, 1, "running on hung storage is a failure");
    assert!(
        outcome
            .err
            .starts_with("ocf-exit-reason:container 'up': the storage under"),
        "{}",
        outcome.err
    );
    // A stopped container has no storage to wait on.
    let outcome = ocf(&control, &["monitor"], &[("OCF_RESKEY_name", "down")]);
    assert_eq!(outcome.code, 7);
}

#[test]
fn ocf_monitor_codes() {
    let control = FakeControl::with(&[
        ("up", Power::On),
        ("down", Power::Off),
        ("fenced", Power::Fenced),
    ]);
    let monitor = |name: &str| ocf(&control, &["monitor"], &[("OCF_RESKEY_name", name)]);
    assert_eq!(monitor("up").code, 0);
    assert_eq!(monitor("down").code, 7);
    let fenced = monitor("fenced");
    assert_eq!(fenced.code, 7);
    assert!(fenced.err.contains("is fenced"));
    assert_eq!(
        monitor("ghost").code,
        7,
        "a probe where it is not configured"
    );
    assert!(control.changes().is_empty());

    let broken = FakeControl::with(&[("up", Power::On)]).failing("power", FailureKind::Failed);
    let outcome = ocf(&broken, &["monitor"], &[("OCF_RESKEY_name", "up")]);
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.starts_with("ocf-exit-reason:"));
    let denied = FakeControl::with(&[("up", Power::On)]).failing("power", FailureKind::Permission);
    assert_eq!(
        ocf(&denied, &["monitor"], &[("OCF_RESKEY_name", "up")]).code,
        4
    );
}

#[test]
fn ocf_start_refuses_a_fenced_container() {
    let control = FakeControl::with(&[("web", Power::Fenced)]);
    let outcome = ocf(&control, &["start"], WEB);
    assert_eq!(outcome.code, 1);
    assert!(outcome
        .err
        .contains("ocf-exit-reason:container 'web' is fenced"));
    assert_eq!(control.changes(), ["validate(web)"]);
    // Stopping it is a no-op success: nothing of it is left.
    assert_eq!(ocf(&control, &["stop"], WEB).code, 0);
    assert_eq!(control.state("web"), Some(Power::Fenced));
}

#[test]
fn ocf_start_failures() {
    let unknown = FakeControl::default();
    assert_eq!(ocf(&unknown, &["start"], WEB).code, 5);
    let mut invalid = FakeControl::with(&[("web", Power::Off)]);
    invalid.invalid_configs.insert("web".into());
    assert_eq!(ocf(&invalid, &["start"], WEB).code, 6);
    let timing_out =
        FakeControl::with(&[("web", Power::Off)]).failing("start", FailureKind::Timeout);
    assert_eq!(ocf(&timing_out, &["start"], WEB).code, 1);
    let lying = FakeControl::with(&[("web", Power::Off)]).lying_about("start");
    let outcome = ocf(&lying, &["start"], WEB);
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("is stopped after start"));
}

#[test]
fn ocf_stop_failures() {
    let unknown = FakeControl::default();
    assert_eq!(
        ocf(&unknown, &["stop"], WEB).code,
        0,
        "nothing to stop here"
    );
    let failing = FakeControl::with(&[("web", Power::On)]).failing("stop", FailureKind::Timeout);
    assert_eq!(ocf(&failing, &["stop"], WEB).code, 1);
    let lying = FakeControl::with(&[("web", Power::On)]).lying_about("stop");
    let outcome = ocf(&lying, &["stop"], WEB);
    assert_eq!(outcome.code, 1);
    assert!(outcome.err.contains("still running after stop"));
}

#[test]
fn ocf_validate_all() {
    let mut control = FakeControl::with(&[("web", Power::Off), ("bad", Power::Off)]);
    control.invalid_configs.insert("bad".into());
    assert_eq!(ocf(&control, &["validate-all"], WEB).code, 0);
    assert_eq!(
        ocf(&control, &["validate-all"], &[("OCF_RESKEY_name", "bad")]).code,
        6
    );
    assert_eq!(
        ocf(&control, &["validate-all"], &[("OCF_RESKEY_name", "ghost")]).code,
        5,
        "not configured on this host: OCF_ERR_INSTALLED, so only this host is banned"
    );
    let missing = ocf(&control, &["validate-all"], &[]);
    assert_eq!(missing.code, 6);
    assert!(missing
        .err
        .contains("ocf-exit-reason:the required parameter 'name'"));
    assert_eq!(
        ocf(&control, &["validate-all"], &[("OCF_RESKEY_name", "a/b")]).code,
        6
    );
}

#[test]
fn ocf_missing_name_is_a_configuration_error_everywhere() {
    let control = FakeControl::default();
    for action in ["start", "stop", "monitor", "validate-all"] {
        assert_eq!(ocf(&control, &[action], &[]).code, 6, "{action}");
    }
    assert!(control.all_calls().is_empty());
}

#[test]
fn ocf_unimplemented_actions_and_bad_arguments() {
    let control = FakeControl::with(&[("web", Power::On)]);
    for action in [
        "notify",
        "promote",
        "demote",
        "migrate_to",
        "reload",
        "status",
    ] {
        assert_eq!(ocf(&control, &[action], WEB).code, 3, "{action}");
    }
    assert_eq!(ocf(&control, &[], WEB).code, 2);
    assert_eq!(ocf(&control, &["start", "now"], WEB).code, 2);
    let usage = ocf(&control, &["usage"], WEB);
    assert_eq!(usage.code, 0);
    assert!(usage.out.contains("start|stop|monitor"));
    assert!(control.changes().is_empty());
}

#[test]
fn ocf_meta_data_needs_no_parameters() {
    let control = FakeControl::default();
    let outcome = ocf(&control, &["meta-data"], &[]);
    assert_eq!(outcome.code, 0);
    assert_eq!(outcome.out, ocf_metadata());
    assert!(control.all_calls().is_empty());
}

/// The sequence Debian's ocf-tester runs, with its environment
/// (OCF_RESKEY_CRM_meta_timeout=20000), against one container.
#[test]
fn ocf_tester_sequence() {
    let control = FakeControl::with(&[("web", Power::Off)]);
    let env = [
        ("OCF_RESKEY_name", "web"),
        ("OCF_RESKEY_CRM_meta_timeout", "20000"),
        ("OCF_RESOURCE_INSTANCE", "web"),
    ];
    let expected: &[(&str, i32)] = &[
        ("meta-data", 0),
        ("validate-all", 0),
        ("monitor", 7),
        ("monitor", 7),
        ("start", 0),
        ("monitor", 0),
        ("monitor", 0),
        ("notify", 3),
        ("demote", 3),
        ("promote", 3),
        ("stop", 0),
        ("monitor", 7),
        ("start", 0),
        ("monitor", 0),
        ("start", 0),
        ("monitor", 0),
        ("stop", 0),
        ("monitor", 7),
        ("stop", 0),
        ("monitor", 7),
        ("migrate_to", 3),
        ("reload", 3),
    ];
    for (step, (action, code)) in expected.iter().enumerate() {
        let outcome = ocf(&control, &[action], &env);
        assert_eq!(outcome.code, *code, "step {step}, {action}: {outcome:?}");
    }
    assert_eq!(
        control
            .changes()
            .iter()
            .filter(|call| call.starts_with("start(") || call.starts_with("stop("))
            .cloned()
            .collect::<Vec<_>>(),
        [
            "start(web, 18s)",
            "stop(web, 18s)",
            "start(web, 18s)",
            "stop(web, 18s)"
        ]
    );
}

#[test]
fn ocf_meta_data_also_validates_against_the_ocf_relaxng_schema() {
    // resource-agents' newer schema for the same document: Pacemaker's
    // tools may check either.
    let xml = ocf_metadata();
    let schema = format!("{OCF_DTD_DIR}/metadata.rng");
    xmllint(
        &["--noout", "--relaxng", &schema, "-"],
        Some(Path::new(OCF_DTD_DIR)),
        &xml,
    );
}

#[test]
fn ocf_meta_data_validates_against_ra_api_1_dtd() {
    let xml = ocf_metadata();
    let dtd = format!("{OCF_DTD_DIR}/ra-api-1.dtd");
    xmllint(&["--noout", "--dtdvalid", &dtd, "-"], None, &xml);
    // As ocf-tester does it: the DOCTYPE's relative system id, resolved
    // from the DTD's directory.
    xmllint(
        &["--noout", "--valid", "-"],
        Some(Path::new(OCF_DTD_DIR)),
        &xml,
    );
}

/// Runs xmllint on `document` (its stdin) and fails the test with its
/// messages unless it validates.
fn xmllint(args: &[&str], directory: Option<&Path>, document: &str) {
    if let Err(messages) = xmllint_verdict(args, directory, document) {
        panic!("xmllint {args:?} rejected the document:\n{messages}\n{document}");
    }
}

/// xmllint's verdict on `document`: `Err` with its messages when invalid.
fn xmllint_verdict(args: &[&str], directory: Option<&Path>, document: &str) -> Result<(), String> {
    for schema in args.iter().filter(|arg| arg.starts_with('/')) {
        assert!(
            Path::new(schema).exists(),
            "{schema} is missing: run scripts/install-deps.sh (packages fence-agents, resource-agents)"
        );
    }
    let mut command = Command::new("xmllint");
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(directory) = directory {
        command.current_dir(directory);
    }
    let mut child = command
        .spawn()
        .expect("xmllint not found: run scripts/install-deps.sh (package libxml2-utils)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(document.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
