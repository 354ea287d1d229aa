//! Who may use the console: when the node has a password (`--requirepass`), the console and
//! its JSON endpoints ask for it with HTTP Basic authentication (any user name, that
//! password), so a browser prompts once and sends it with every poll. Without a password the
//! console is open, as RESP is. `/healthz`, `/status` and `/metrics` stay open either way: they
//! carry counts, never keys or values, and probes and scrapers rely on them (README,
//! *Console*).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::Console;
use crate::resp::auth::Password;
use std::sync::Arc;

/// The `Authorization` value carrying `password` (empty user name), as a node sends it to its
/// peers' consoles.
pub fn basic_credentials(password: &Password) -> String {
    let mut pair = vec![b':'];
    pair.extend_from_slice(password.as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    format!("Basic {encoded}")
}

/// Does `headers` carry Basic credentials with `password` (whatever the user name)?
pub fn carries_password(headers: &HeaderMap, password: &Password) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    // `user:password`; the password may itself hold ':' (only the first one splits).
    let Some(colon) = decoded.iter().position(|byte| *byte == b':') else {
        return false;
    };
    password.matches(&decoded[colon + 1..])
}

/// Lets a request through when the node has no password or the request carries it; else 401
/// with the challenge that makes a browser ask.
pub async fn require_password(
    State(console): State<Arc<Console>>,
    request: Request,
    next: Next,
) -> Response {
    match &console.password {
        Some(password) if !carries_password(request.headers(), password) => (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"dendrite console\", charset=\"UTF-8\"",
            )],
            "this node has a password (--requirepass): give it as the HTTP Basic password, any user name\n",
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn basic_credentials_with_any_user_name() {
        let password = Password::new("s3:cret");
        assert!(carries_password(
            &with(&basic_credentials(&password)),
            &password
        ));
        // "admin:s3:cret"
        assert!(carries_password(
            &with("basic YWRtaW46czM6Y3JldA=="),
            &password
        ));
        let wrong = basic_credentials(&Password::new("wrong"));
        assert!(!carries_password(&with(&wrong), &password));
        assert!(!carries_password(&with("Bearer x"), &password));
        assert!(!carries_password(&with("Basic !!!"), &password));
        assert!(!carries_password(&HeaderMap::new(), &password));
    }
}
