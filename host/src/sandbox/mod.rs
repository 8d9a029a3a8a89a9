//! Running a call in a tenant's sandbox: the engine and the plugin (engine.rs), the compiled
//! plugin's cache, a tenant's Store data and the host side of the WIT's config and telemetry
//! (state.rs), the bodies the plugin splices (body.rs), warm instances, limits and the guest's
//! log.

pub mod bindings;
pub mod body;
pub mod cache;
pub mod config_host;
pub mod engine;
pub mod guest_log;
pub mod limits;
pub mod runner;
pub mod state;
pub mod telemetry_host;
pub mod warm;
