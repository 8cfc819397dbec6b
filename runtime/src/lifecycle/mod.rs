//! The operations `vroot` offers on a container.

pub mod console;
mod error;
pub mod exec;
pub mod fence;
pub mod halt;
pub mod inspect;
pub mod shift;
pub mod start;
pub mod stop;
pub mod teardown;
pub mod terminal;

pub use error::LifecycleError;
