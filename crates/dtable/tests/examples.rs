//! Runs the crate's examples as tests, so that what a newcomer copies keeps working.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[allow(dead_code)]
#[path = "../examples/library.rs"]
mod library;

use bytes::Bytes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_example_writes_reads_and_captures_over_tcp() {
    let seen = library::tour().await.unwrap();
    let greeting = Some(Bytes::from("hello from dendrite"));
    assert_eq!(seen.greetings, vec![greeting.clone(); 3]);
    assert_eq!(seen.deleted, None);
    assert!(
        seen.local_keys.iter().all(|&n| n >= 1),
        "a node holds no key: {:?}",
        seen.local_keys
    );
    assert!(seen.captured >= 1, "the capture hook saw nothing");
}
