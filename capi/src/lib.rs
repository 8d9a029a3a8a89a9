//! libcoffer: Coffer's host as a C library, for mail servers not written in Rust (Dovecot,
//! Cyrus, a Go or Python server). The header is `include/coffer.h`, generated from this crate by
//! cbindgen and checked in; a test fails when the two drift. docs/c-api.md says who owns what,
//! which calls block, and what happens across a fork.
//!
//! Every function catches panics: none crosses into C. A call that fails returns -1 (or NULL)
//! and, when `err` is not NULL, sets `*err` to an error the caller frees with
//! `coffer_error_free`.

#![allow(clippy::missing_safety_doc, non_camel_case_types)]

mod calls;
mod error;
mod handles;
mod streams;

pub use calls::*;
pub use error::*;
pub use handles::*;
pub use streams::*;
