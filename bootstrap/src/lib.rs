//! vroot's host side: mounting the shared filesystem at `/vz/private`,
//! probing its health, fencing containers and speaking to cluster managers
//! (fence and OCF resource agents).
//!
//! Nothing is here yet: the storage, watchdog and fencing issue fills it.
//! It depends on `vroot-runtime`, never the other way round.
