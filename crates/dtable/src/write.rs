//! [`Write`]: what a client stores under one key.

use bytes::Bytes;

/// A value to store under a key, until a deadline or for ever (see
/// [`Query::set_many`](crate::Query::set_many)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The key.
    pub key: Bytes,
    /// The value.
    pub value: Bytes,
    /// When the value expires, Unix milliseconds; `None`: never.
    pub expires: Option<u64>,
}

impl Write {
    /// A value that never expires.
    pub fn lasting(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Write {
        Write {
            key: key.into(),
            value: value.into(),
            expires: None,
        }
    }
}
