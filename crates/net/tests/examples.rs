//! Runs the crate's examples as tests, so that what a newcomer copies keeps working.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/secure_ring.rs"]
mod secure_ring;

use dendrite::RingError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secure_ring_example_agrees_on_the_owner_and_refuses_a_stranger() {
    let seen = secure_ring::tour().await.unwrap();
    assert_eq!(seen.owners.len(), 3);
    assert!(
        seen.owners
            .values()
            .all(|owner| *owner == seen.expected_owner),
        "{:?}",
        seen.owners
    );
    assert!(
        matches!(seen.stranger_error, Some(RingError::NoSeed(_))),
        "{:?}",
        seen.stranger_error
    );
}
