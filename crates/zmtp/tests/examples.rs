//! Runs the crate's examples as tests, so that what a newcomer copies keeps working.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/curve.rs"]
mod curve_example;

use bytes::Bytes;
use zmtp::{PublicKey, ZmtpError};

#[tokio::test]
async fn the_curve_example_answers_allowed_clients_and_refuses_strangers() {
    let seen = curve_example::tour().await.unwrap();
    assert_eq!(seen.server_key_text.len(), 40);
    assert!(seen.server_key_text.parse::<PublicKey>().is_ok());

    assert_eq!(seen.set_replies.len(), seen.expected_values.len());
    assert!(
        seen.set_replies
            .iter()
            .all(|reply| *reply == [Bytes::from_static(b"OK")]),
        "{:?}",
        seen.set_replies
    );
    let values: Vec<Vec<Bytes>> = seen
        .expected_values
        .iter()
        .map(|value| vec![value.clone()])
        .collect();
    assert_eq!(seen.get_replies, values);
    assert_eq!(seen.missing_reply, [Bytes::from_static(b"NIL")]);

    assert!(
        matches!(seen.stranger_error, Some(ZmtpError::Refused { .. })),
        "{:?}",
        seen.stranger_error
    );
    // Refused during the handshake, not left to time out.
    assert!(
        seen.stranger_waited < curve_example::REQUEST_DEADLINE,
        "{:?}",
        seen.stranger_waited
    );
}
