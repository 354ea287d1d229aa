//! The value size limit, worded as Redis words it, for raw bytes and for a real client.

use super::*;

#[tokio::test]
async fn a_node_refuses_bulk_strings_over_the_table_value_limit_as_redis_does() {
    let settings = SettingsLayer {
        listen: Some("127.0.0.1:0".into()),
        resp: Some("127.0.0.1:0".into()),
        http: Some("127.0.0.1:0".into()),
        replicas: Some(0),
        ..SettingsLayer::default()
    }
    .validate()
    .unwrap();
    let limit = dtable::TableConfig::default().max_value_len;
    assert_eq!(settings.proto_max_bulk_len, limit);
    let (trigger, signal) = shutdown_channel();
    let node = start_node(&settings, signal).await.unwrap();

    // Exactly the limit: read, stored, read back.
    let mut con = connect(node.resp_addr).await;
    let largest = vec![b'v'; limit];
    let () = con.set("largest", &largest).await.unwrap();
    let back: Vec<u8> = con.get("largest").await.unwrap();
    assert_eq!(back.len(), limit);

    // One byte more: Redis's error, then the connection closes (without buffering the value:
    // the header alone is refused).
    let header = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", limit + 1);
    let expected = "-ERR Protocol error: invalid bulk length\r\n";
    let mut stream = TcpStream::connect(node.resp_addr).await.unwrap();
    stream.write_all(header.as_bytes()).await.unwrap();
    let reply = read_at_least(&mut stream, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert!(
        closed_by_server(&mut stream).await,
        "Redis closes the connection"
    );

    // A real client sending the whole value: the server answers and closes while the client
    // is still writing megabytes, so the client sees either the error or its write fail on the
    // closed connection, as with redis-server. Either way nothing is stored.
    let mut doomed = connect(node.resp_addr).await;
    let error = doomed
        .set::<_, _, ()>("big", vec![b'v'; limit + 1])
        .await
        .unwrap_err();
    assert!(
        server_error(&error) == "ERR Protocol error: invalid bulk length"
            || error.is_connection_dropped()
            || error.is_io_error(),
        "{error:?}"
    );
    let absent: Option<Vec<u8>> = con.get("big").await.unwrap();
    assert_eq!(absent, None);
    // The table's refused-version counter is exported with the others.
    let metrics =
        dendrite_node::http::client::http_get(&node.http_addr.to_string(), "/metrics", WAIT)
            .await
            .unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("# HELP dendrite_versions_refused_total ")
            && text.contains("# TYPE dendrite_versions_refused_total counter\n")
            && text.contains("\ndendrite_versions_refused_total 0\n"),
        "{text}"
    );
    trigger.trigger();
    timeout(WAIT, node.wait())
        .await
        .expect("node did not stop")
        .unwrap();
}

#[tokio::test]
async fn a_real_client_gets_the_redis_error_for_a_bulk_string_over_the_limit() {
    // A small limit, so the whole request fits in the socket buffers and the client reads the
    // answer instead of failing to write the rest.
    let limits = RespLimits {
        parse: dendrite_node::resp::ParseLimits {
            max_bulk_len: 1024,
            ..Default::default()
        },
        ..RespLimits::default()
    };
    let server = start(1, limits).await;
    let mut con = connect(server.addr).await;
    let () = con.set("fits", vec![b'v'; 1024]).await.unwrap();
    let stored: Vec<u8> = con.get("fits").await.unwrap();
    assert_eq!(stored.len(), 1024);
    let mut doomed = connect(server.addr).await;
    let error = doomed
        .set::<_, _, ()>("over", vec![b'v'; 1025])
        .await
        .unwrap_err();
    assert_eq!(
        server_error(&error),
        "ERR Protocol error: invalid bulk length",
        "{error:?}"
    );
    // Redis closes the connection after a protocol error.
    let after = redis::cmd("PING").query_async::<String>(&mut doomed).await;
    assert!(after.is_err(), "{after:?}");
    let absent: Option<Vec<u8>> = con.get("over").await.unwrap();
    assert_eq!(absent, None);
}
