//! The public API: the host ([`coffer::Coffer`]), a tenant's calls, their errors and
//! telemetry, and Stalwart's adapter.

pub mod coffer;
pub mod dialect;
pub mod error;
mod fetch;
pub mod objects;
mod read;
mod sealed;
pub mod stalwart;
pub mod telemetry;
pub mod tenant;
pub mod uploads;
mod write;
