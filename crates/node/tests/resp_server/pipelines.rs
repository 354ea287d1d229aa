//! Pipelines: replies in order, grouped GETs and SETs that see each other and keep each
//! deadline.

use super::*;

#[tokio::test]
async fn pipelines_keep_order() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    for index in 0..1000 {
        pipe.cmd("SET")
            .arg(format!("key:{index}"))
            .arg(index)
            .ignore();
    }
    for index in 0..1000 {
        pipe.cmd("GET").arg(format!("key:{index}"));
    }
    let values: Vec<i64> = pipe.query_async(&mut con).await.unwrap();
    assert_eq!(values, (0..1000).collect::<Vec<i64>>());

    // 1000 PINGs in one write get 1000 PONGs back, in order.
    let request = b"*1\r\n$4\r\nPING\r\n".repeat(1000);
    let reply = raw_exchange(server.addr, &request, 7 * 1000).await;
    assert_eq!(reply, b"+PONG\r\n".repeat(1000));
}

/// Runs of pipelined GETs are answered by one multi-key read: interleaved writes, a GET of the
/// wrong arity, other commands and a protocol error right after a run must all keep their place.
#[tokio::test]
async fn grouped_pipelined_gets_keep_order_and_see_earlier_writes() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1");
    pipe.cmd("GET").arg("a");
    pipe.cmd("GET").arg("missing");
    pipe.cmd("GET").arg("a");
    pipe.cmd("SET").arg("a").arg("2");
    pipe.cmd("GET").arg("a");
    pipe.cmd("PING");
    pipe.cmd("GET").arg("a");
    pipe.cmd("DEL").arg("a");
    pipe.cmd("GET").arg("a");
    let replies: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
    let ok = redis::Value::Okay;
    let bulk = |v: &str| redis::Value::BulkString(v.as_bytes().to_vec());
    assert_eq!(
        replies,
        vec![
            ok.clone(),
            bulk("1"),
            redis::Value::Nil,
            bulk("1"),
            ok,
            bulk("2"),
            redis::Value::SimpleString("PONG".into()),
            bulk("2"),
            redis::Value::Int(1),
            redis::Value::Nil,
        ]
    );

    // A GET of the wrong arity inside a run of GETs gets Redis's error, in its place.
    let request =
        b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$3\r\nGET\r\n*2\r\n$3\r\nGET\r\n$1\r\ny\r\n";
    let expected = b"$-1\r\n-ERR wrong number of arguments for 'get' command\r\n$-1\r\n";
    let reply = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(expected)
    );

    // GETs followed by garbage: the GETs are answered, then the protocol error, then close.
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1\r\n$x\r\n")
        .await
        .unwrap();
    let expected = "$-1\r\n$-1\r\n-ERR Protocol error: invalid bulk length\r\n";
    let reply = read_at_least(&mut stream, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert!(closed_by_server(&mut stream).await);
}

/// Runs of pipelined plain SETs are written with one multi-key write: the last SET of a key in
/// a run wins, GETs after the run see it, and a SET with options or the wrong arity inside the
/// run is answered in its place.
#[tokio::test]
async fn grouped_pipelined_sets_keep_order_and_last_write_wins() {
    let server = start(1, RespLimits::default()).await;
    let mut con = connect(server.addr).await;
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1");
    pipe.cmd("SET").arg("b").arg("2");
    pipe.cmd("SET").arg("a").arg("3");
    pipe.cmd("GET").arg("a");
    pipe.cmd("SET").arg("b").arg("4");
    pipe.cmd("SET").arg("c").arg("5");
    pipe.cmd("MGET").arg("a").arg("b").arg("c");
    let replies: Vec<redis::Value> = pipe.query_async(&mut con).await.unwrap();
    let ok = redis::Value::Okay;
    let bulk = |v: &str| redis::Value::BulkString(v.as_bytes().to_vec());
    assert_eq!(
        replies,
        vec![
            ok.clone(),
            ok.clone(),
            ok.clone(),
            bulk("3"),
            ok.clone(),
            ok,
            redis::Value::Array(vec![bulk("3"), bulk("4"), bulk("5")]),
        ]
    );
    assert_eq!(server.metrics.command_count("set"), 5);

    // A SET of the wrong arity inside a run of SETs gets Redis's error, in its place, and the
    // SETs around it still land.
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$1\r\n1\r\n*2\r\n$3\r\nSET\r\n$1\r\ny\r\n\
                    *3\r\n$3\r\nSET\r\n$1\r\ny\r\n$1\r\n2\r\n";
    let expected = b"+OK\r\n-ERR wrong number of arguments for 'set' command\r\n+OK\r\n";
    let reply = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(expected)
    );
    let values: Vec<Option<String>> = con.mget(&["x", "y"]).await.unwrap();
    assert_eq!(values, vec![Some("1".to_owned()), Some("2".to_owned())]);
}

/// SETs with a time option join the runs of plain SETs: each keeps its own deadline, a bad
/// time gets Redis's error in its place, and the SETs around it land.
#[tokio::test]
async fn grouped_pipelined_sets_with_deadlines_keep_each_deadline() {
    let server = start(1, RespLimits::default()).await;
    let mut request = bytes::BytesMut::new();
    for line in [
        "SET a 1 EX 100",
        "SET b 2 ex 0",
        "SET c 3",
        "SET d 4 PX 200000",
        "SET e 5 PXAT 1",
        "TTL a",
        "TTL c",
        "TTL d",
        "EXISTS b e",
    ] {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        dendrite_node::resp::encode_request(&args, &mut request);
    }
    let expected = "+OK\r\n-ERR invalid expire time in 'set' command\r\n+OK\r\n+OK\r\n+OK\r\n\
                    :100\r\n:-1\r\n:200\r\n:0\r\n";
    let reply = raw_exchange(server.addr, &request, expected.len()).await;
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert_eq!(server.metrics.command_count("set"), 5);
}

/// Runs of pipelined counter commands (grouped into one read-modify-write per primary) answer
/// each in order: INCR and DECR by their shortcut, INCRBY and DECRBY by the general parser, a
/// counter over a value that is not an integer with Redis's error in its place.
#[tokio::test]
async fn grouped_pipelined_counters_answer_in_order() {
    let server = start(1, RespLimits::default()).await;
    let request = b"*3\r\n$3\r\nSET\r\n$4\r\ntext\r\n$3\r\nabc\r\n\
        *2\r\n$4\r\nINCR\r\n$1\r\nc\r\n\
        *2\r\n$4\r\nINCR\r\n$1\r\nc\r\n\
        *2\r\n$4\r\nDECR\r\n$1\r\nd\r\n\
        *3\r\n$6\r\nINCRBY\r\n$1\r\nc\r\n$2\r\n10\r\n\
        *3\r\n$6\r\nDECRBY\r\n$1\r\nd\r\n$1\r\n5\r\n\
        *2\r\n$4\r\nincr\r\n$4\r\ntext\r\n\
        *2\r\n$4\r\ndecr\r\n$1\r\nc\r\n";
    let expected: &[u8] = b"+OK\r\n:1\r\n:2\r\n:-1\r\n:12\r\n:-6\r\n\
        -ERR value is not an integer or out of range\r\n:11\r\n";
    let reply = raw_exchange(server.addr, request, expected.len()).await;
    assert_eq!(
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(expected)
    );
}
