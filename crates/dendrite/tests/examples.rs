//! Runs the crate's examples as tests, so that what a newcomer copies keeps working.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/ring.rs"]
mod ring_example;

#[tokio::test(start_paused = true)]
async fn the_ring_example_agrees_on_the_owner_from_every_node() {
    let seen = ring_example::tour().await.unwrap();
    assert_eq!(seen.owners.len(), 3);
    assert!(seen
        .owners
        .values()
        .all(|owner| *owner == seen.expected_owner));
    assert!(seen.events > 0, "no ring event was heard");
}
