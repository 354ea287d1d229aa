//! A connection's life: QUIT, garbage on the wire, the client limit, shutdown, AUTH and HELLO.

use super::*;

#[tokio::test]
async fn quit_replies_ok_then_closes() {
    let server = start(1, RespLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"*1\r\n$4\r\nQUIT\r\n*1\r\n$4\r\nPING\r\n")
        .await
        .unwrap();
    let reply = read_at_least(&mut stream, 5).await;
    assert_eq!(reply, b"+OK\r\n", "nothing after QUIT is executed");
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn protocol_garbage_gets_an_error_and_others_are_unaffected() {
    let server = start(1, RespLimits::default()).await;
    let mut good = connect(server.addr).await;
    let cases: [(&[u8], &str); 4] = [
        (
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n:5\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*abc\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"SET \"unterminated\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (garbage, expected) in cases {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(garbage).await.unwrap();
        let reply = read_at_least(&mut stream, expected.len()).await;
        assert_eq!(String::from_utf8_lossy(&reply), expected);
        assert!(
            closed_by_server(&mut stream).await,
            "connection must close after a protocol error"
        );
    }
    let pong: String = redis::cmd("PING").query_async(&mut good).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test]
async fn client_limit_refuses_extra_connections() {
    let limits = RespLimits {
        max_clients: 1,
        ..RespLimits::default()
    };
    let server = start(1, limits).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(read_at_least(&mut first, 7).await, b"+PONG\r\n");
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    let reply = read_at_least(&mut second, 36).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        "-ERR max number of clients reached\r\n"
    );
    assert!(closed_by_server(&mut second).await);
}

#[tokio::test]
async fn shutdown_stops_the_server_and_closes_clients() {
    let server = start(1, RespLimits::default()).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"PING\r\n").await.unwrap();
    assert_eq!(read_at_least(&mut stream, 7).await, b"+PONG\r\n");
    server.trigger.trigger();
    let finished = timeout(WAIT, server.task)
        .await
        .expect("server did not stop");
    finished.unwrap().unwrap();
    assert!(closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn requirepass_allows_only_auth_hello_and_quit_before_auth() {
    let server = start_with(
        1,
        RespConfig {
            requirepass: Some(Password::new("s3cret")),
            ..RespConfig::default()
        },
    )
    .await;
    let request =
        b"PING\r\nGET k\r\nAUTH wrong\r\nAUTH bob s3cret\r\nHELLO 2\r\nAUTH s3cret\r\nPING\r\n";
    let expected = [
        "-NOAUTH Authentication required.\r\n",
        "-NOAUTH Authentication required.\r\n",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time\r\n",
        "+OK\r\n",
        "+PONG\r\n",
    ]
    .concat();
    let received = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&received), expected);

    // The redis crate logs in with the password from the URL.
    let url = format!("redis://:s3cret@{}/", server.addr);
    let client = redis::Client::open(url).unwrap();
    let mut con = timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .unwrap()
        .unwrap();
    let () = con.set("k", "v").await.unwrap();
    let value: String = con.get("k").await.unwrap();
    assert_eq!(value, "v");
    let mut anonymous = connect(server.addr).await;
    let error = anonymous.get::<_, Option<String>>("k").await.unwrap_err();
    assert_eq!(error.code(), Some("NOAUTH"), "{error}");
    server.trigger.trigger();
}

#[tokio::test]
async fn auth_without_a_password_and_hello_two() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let error = redis::cmd("AUTH")
        .arg("x")
        .query_async::<String>(&mut con)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("called without any password configured for the default user"),
        "{error}"
    );
    let hello: Vec<redis::Value> = redis::cmd("HELLO")
        .arg(2)
        .arg("SETNAME")
        .arg("worker")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(hello.len(), 14);
    let name: String = redis::cmd("CLIENT")
        .arg("GETNAME")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(name, "worker");
    let error = redis::cmd("HELLO")
        .arg(4)
        .query_async::<redis::Value>(&mut con)
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some("NOPROTO"), "{error}");
    server.trigger.trigger();
}
