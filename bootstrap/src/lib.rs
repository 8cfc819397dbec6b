//! vroot's host side: mounting the shared filesystem at `/vz/private`,
//! probing its health, fencing containers and speaking to cluster managers
//! (fence and OCF resource agents).
//!
//! The storage watchdog and the fence itself are the runtime's (the
//! supervisor runs them); this crate decides about the host around them.
//! It depends on `vroot-runtime`, never the other way round.

pub mod agents;
pub mod doctor;
pub mod start;
pub mod storage;
pub mod units;
