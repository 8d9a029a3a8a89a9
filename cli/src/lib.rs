//! The parts of the `coffer` command that others share: the embedded S3 server (s3s-fs), which
//! the demo and the test suite start when no other server is given.

pub mod embedded;
