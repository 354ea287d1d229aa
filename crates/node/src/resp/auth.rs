//! `requirepass`: the password a RESP client must give (`AUTH`) before anything else.
//!
//! Redis's default user is the only user: `AUTH <password>` and `AUTH default <password>`
//! both log in. The replies are Redis's own words so client libraries recognise them. The
//! check is pure; the server only asks [`allowed_before_auth`] whether a request may run yet.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use super::Reply;

/// The password of the default user. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Arc<[u8]>);

impl Password {
    /// Wraps the configured password.
    pub fn new(text: &str) -> Password {
        Password(Arc::from(text.as_bytes()))
    }

    /// The password's bytes, for a node that presents it to its peers (the console asks other
    /// nodes' consoles with the cluster's password).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether `attempt` is this password, in time that does not depend on where they differ.
    pub fn matches(&self, attempt: &[u8]) -> bool {
        constant_time_eq(&self.0, attempt)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Compares every byte of the longer input, so timing reveals at most the lengths.
fn constant_time_eq(expected: &[u8], attempt: &[u8]) -> bool {
    let mut difference = u8::from(expected.len() != attempt.len());
    for index in 0..expected.len().max(attempt.len()) {
        let left = expected.get(index).copied().unwrap_or(0);
        let right = attempt.get(index).copied().unwrap_or(0);
        difference |= std::hint::black_box(left ^ right);
    }
    difference == 0
}

/// Redis's reply to any command but AUTH, HELLO, RESET and QUIT before authenticating.
pub fn noauth() -> Reply {
    Reply::Error("NOAUTH Authentication required.".into())
}

/// Redis's reply to a wrong user name or password.
pub fn wrongpass() -> Reply {
    Reply::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
}

/// Whether a request named `name` may run on a connection that has not authenticated: the
/// commands the table flags `no_auth` (those that authenticate, reset or leave), as in Redis.
pub fn allowed_before_auth(name: &str) -> bool {
    super::spec::lookup(name.as_bytes()).is_some_and(|spec| spec.has_flag("no_auth"))
}

/// The reply to `AUTH [user] password`, and whether the connection is now authenticated.
pub fn authenticate(
    requirepass: Option<&Password>,
    user: Option<&Bytes>,
    password: &Bytes,
) -> (Reply, bool) {
    let default_user = user.is_none_or(|user| user.as_ref() == b"default");
    match requirepass {
        // Without a password the default user is "nopass": AUTH default <anything> succeeds,
        // the one-argument form is refused as a likely configuration mistake.
        None if user.is_none() => (
            Reply::err(
                "AUTH <password> called without any password configured for the default user. \
                 Are you sure your configuration is correct?",
            ),
            true,
        ),
        None if default_user => (Reply::ok(), true),
        None => (wrongpass(), true),
        Some(expected) => {
            // Compare even for an unknown user so the timing does not tell users apart.
            let right = expected.matches(password);
            if right && default_user {
                (Reply::ok(), true)
            } else {
                (wrongpass(), false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_passwords() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"secret", b""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn auth_replies_like_redis() {
        let password = Password::new("pw");
        let pw = Bytes::from_static(b"pw");
        let bad = Bytes::from_static(b"nope");
        let default = Bytes::from_static(b"default");
        let other = Bytes::from_static(b"alice");
        assert_eq!(
            authenticate(Some(&password), None, &pw),
            (Reply::ok(), true)
        );
        assert_eq!(
            authenticate(Some(&password), Some(&default), &pw),
            (Reply::ok(), true)
        );
        assert_eq!(
            authenticate(Some(&password), None, &bad),
            (wrongpass(), false)
        );
        assert_eq!(
            authenticate(Some(&password), Some(&other), &pw),
            (wrongpass(), false)
        );
        let (reply, _) = authenticate(None, None, &pw);
        assert_eq!(
            reply,
            Reply::Error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?"
                    .into()
            )
        );
        assert_eq!(
            authenticate(None, Some(&default), &bad),
            (Reply::ok(), true)
        );
        assert!(!format!("{password:?}").contains("pw\""));
    }
}
