//! Coffer's conformance suite: the plugin run through the host against a real S3 server (see
//! tests/src/lib.rs for how the server is found). One test binary, one module per concern.

mod cli;
mod cluster;
mod conformance;
mod cross_client;
mod egress;
mod encryption;
mod errors;
mod faults;
mod hedging;
mod hostile_server;
mod keys;
mod load;
mod multipart;
mod providers;
mod ranges;
mod sandbox;
mod scale;
mod settings;
mod stalwart;
mod streams;
mod telemetry;
mod tools;
mod transport;
mod uploads;
