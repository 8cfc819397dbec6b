//! Integration tests: real namespaces, mounts and cgroups, real busybox and
//! systemd roots. They need root, like vroot itself.

mod agents;
mod busybox;
mod doctor;
mod errors;
mod escape;
mod fencing;
mod guide;
mod harness;
mod hostile;
mod interactive;
mod json_schemas;
mod lint;
mod network;
mod overlay;
mod progress;
mod pure_cgroup_v2;
mod security_options;
mod stop_all;
mod storage_cli;
mod supervisor_loss;
mod systemd;
mod sysvinit;
mod test_storage;
mod userns;
