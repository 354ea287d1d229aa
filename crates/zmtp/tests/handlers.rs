//! How the server runs request handlers: handlers that answer at once are run inline, others
//! in their own task; either way a slow or panicking handler costs only its own request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::WAIT;
use futures::FutureExt;
use tokio::sync::watch;
use zmtp::{Client, ClientConfig, Server, ServerConfig, ZmtpError};

/// "fast" answers at once, "slow" once `release` turns true, "panic-now" panics on the first
/// poll, "panic-later" after waiting once.
async fn server(release: watch::Receiver<bool>) -> Server {
    let handler = move |request: Vec<Bytes>| {
        let mut release = release.clone();
        async move {
            match request.first().map(|p| p.as_ref()) {
                Some(b"slow") => {
                    release.wait_for(|go| *go).await.unwrap();
                }
                Some(b"panic-now") => panic!("handler panics at once"),
                Some(b"panic-later") => {
                    tokio::task::yield_now().await;
                    panic!("handler panics after waiting");
                }
                _ => {}
            }
            request
        }
        .boxed()
    };
    Server::bind("127.0.0.1:0", ServerConfig::default(), Arc::new(handler))
        .await
        .unwrap()
}

fn part(text: &'static str) -> Vec<Bytes> {
    vec![Bytes::from_static(text.as_bytes())]
}

#[tokio::test]
async fn a_slow_handler_does_not_hold_up_fast_ones() {
    let (release, released) = watch::channel(false);
    let server = server(released).await;
    let addr = server.local_addr().to_string();
    let client = Client::new(ClientConfig::default()).unwrap();

    let slow = {
        let client = client.clone();
        let addr = addr.clone();
        tokio::spawn(async move { client.request(&addr, part("slow"), WAIT).await })
    };
    // Fast requests on the same connection are answered while "slow" is still waiting.
    for _ in 0..10 {
        let reply = client.request(&addr, part("fast"), WAIT).await.unwrap();
        assert_eq!(reply, part("fast"));
    }
    assert!(!slow.is_finished());
    release.send(true).unwrap();
    let reply = tokio::time::timeout(WAIT, slow).await.unwrap().unwrap();
    assert_eq!(reply.unwrap(), part("slow"));
    assert_eq!(server.active_connections(), 1);
}

#[tokio::test]
async fn a_panicking_handler_costs_only_its_request() {
    let (_release, released) = watch::channel(false);
    let server = server(released).await;
    let addr = server.local_addr().to_string();
    let client = Client::new(ClientConfig::default()).unwrap();
    assert_eq!(
        client.request(&addr, part("fast"), WAIT).await.unwrap(),
        part("fast")
    );
    for which in ["panic-now", "panic-later"] {
        let err = client
            .request(&addr, part(which), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(matches!(err, ZmtpError::Timeout { .. }), "{which}: {err:?}");
        // The same connection keeps serving.
        assert_eq!(
            client.request(&addr, part("fast"), WAIT).await.unwrap(),
            part("fast")
        );
        assert_eq!(server.active_connections(), 1);
    }
}
