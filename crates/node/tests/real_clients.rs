//! Real Redis clients with their default settings against a Dendrite RESP server: the `redis`
//! crate in RESP2 and RESP3, and redis-py (5 or later: it sends `HELLO 3` when asked for
//! RESP3 and `CLIENT SETINFO` on every connect) from a virtualenv the test creates under the
//! target directory. Without `python3 -m venv` or PyPI the redis-py test FAILS saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dendrite_node::backend::MemoryBackend;
use dendrite_node::metrics::Metrics;
use dendrite_node::resp::{serve_resp, RespLimits};
use dendrite_node::shutdown::{shutdown_channel, ShutdownTrigger};
use redis::AsyncCommands;
use tokio::net::TcpListener;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
/// redis-py's first run builds the venv: pip may take a while.
const PYTHON_WAIT: Duration = Duration::from_secs(60);

async fn start() -> (SocketAddr, ShutdownTrigger) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, signal) = shutdown_channel();
    tokio::spawn(serve_resp(
        listener,
        Arc::new(MemoryBackend::new(1)),
        Arc::new(Metrics::new()),
        RespLimits::default(),
        signal,
    ));
    (addr, trigger)
}

/// Sets, reads, deletes and pings through the `redis` crate speaking `protocol`.
async fn exercise_redis_crate(url_suffix: &str) {
    let (addr, trigger) = start().await;
    let client = redis::Client::open(format!("redis://{addr}/{url_suffix}")).unwrap();
    let mut con = timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .expect("connect timed out")
        .unwrap();
    let () = con.set("a", "1").await.unwrap();
    let () = con.mset(&[("b", "2"), ("c", "3")]).await.unwrap();
    let value: Option<String> = con.get("a").await.unwrap();
    assert_eq!(value.as_deref(), Some("1"));
    let missing: Option<String> = con.get("nosuch").await.unwrap();
    assert_eq!(missing, None);
    let values: Vec<Option<String>> = con.mget(&["a", "nosuch", "c"]).await.unwrap();
    assert_eq!(values, [Some("1".into()), None, Some("3".into())]);
    let deleted: i64 = con.del(&["a", "b", "nosuch"]).await.unwrap();
    assert_eq!(deleted, 2);
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    let config: std::collections::HashMap<String, String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("databases")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(config.get("databases").map(String::as_str), Some("1"));
    let info: String = redis::cmd("CLIENT")
        .arg("INFO")
        .query_async(&mut con)
        .await
        .unwrap();
    let expected = if url_suffix.contains("resp3") { 3 } else { 2 };
    assert!(info.contains(&format!(" resp={expected} ")), "{info}");
    trigger.trigger();
}

#[tokio::test]
async fn the_redis_crate_works_in_resp2() {
    exercise_redis_crate("").await;
}

#[tokio::test]
async fn the_redis_crate_works_in_resp3() {
    exercise_redis_crate("?protocol=resp3").await;
}

/// redis-py with its defaults, then asking for RESP2 and RESP3 explicitly.
const REDIS_PY_SCRIPT: &str = r#"
import sys, redis
port = int(sys.argv[1])
# redis-py 8 speaks RESP3 by default (HELLO 3 on connect), earlier versions RESP2.
default = 3 if int(redis.__version__.split(".")[0]) >= 8 else 2
for protocol in (None, 2, 3):
    options = {} if protocol is None else {"protocol": protocol}
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, **options)
    assert r.ping() is True
    assert r.set("py:a", "1") is True
    assert r.mset({"py:b": "2", "py:c": "3"}) is True
    assert r.get("py:a") == b"1", r.get("py:a")
    assert r.get("py:nosuch") is None
    assert r.mget("py:a", "py:nosuch", "py:c") == [b"1", None, b"3"]
    assert r.delete("py:a", "py:b", "py:nosuch") == 2
    assert r.echo("hi") == b"hi"
    info = r.client_info()
    assert info["lib-name"].startswith("redis-py"), info
    wanted = str(protocol or default)
    assert str(info["resp"]) == wanted, (protocol, info)
    r.close()
print("ok", redis.__version__, flush=True)
"#;

#[tokio::test]
async fn redis_py_with_its_defaults_and_in_both_protocols() {
    let (addr, trigger) = start().await;
    common::redis_py::run_script(REDIS_PY_SCRIPT, &addr.port().to_string(), PYTHON_WAIT).await;
    trigger.trigger();
}
