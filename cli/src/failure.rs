//! How a command fails, and the exit status each failure gives.

use coffer_host::{ErrorKind, StoreError};

/// A command's failure: its message, and by its kind the exit status.
pub(crate) enum Failure {
    /// Usage or config: exit 2.
    Config(String),
    /// The key does not exist: exit 3.
    Missing(String),
    /// Anything else: exit 1.
    Other(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e.kind() {
            ErrorKind::InvalidConfig => Failure::Config(e.to_string()),
            _ => Failure::Other(e.to_string()),
        }
    }
}

impl Failure {
    /// The same failure, with `note` after its message.
    pub(crate) fn noted(self, note: &str) -> Failure {
        match self {
            Failure::Config(m) => Failure::Config(format!("{m} ({note})")),
            Failure::Missing(m) => Failure::Missing(format!("{m} ({note})")),
            Failure::Other(m) => Failure::Other(format!("{m} ({note})")),
        }
    }
}
