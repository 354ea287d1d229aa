//! Tests of the parent module, in a file of their own so the module itself stays short.

use super::super::reply::Protocol;
use super::*;
use crate::backend::MemoryBackend;

fn parse(words: &[&str]) -> Result<Command, Reply> {
    Command::parse(
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect(),
    )
}

fn error_text(words: &[&str]) -> String {
    match parse(words) {
        Err(Reply::Error(text)) => text,
        other => panic!("expected an error for {words:?}, got {other:?}"),
    }
}

#[test]
fn unknown_commands_are_worded_like_redis() {
    assert_eq!(
        error_text(&["foo", "a", "b"]),
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(
        error_text(&["FOO"]),
        "ERR unknown command 'FOO', with args beginning with: "
    );
    let long = "x".repeat(300);
    let text = error_text(&["foo", &long, "y"]);
    assert!(text.ends_with(&format!("'{}' ", "x".repeat(128))), "{text}");
}

#[test]
fn arity_and_syntax_errors() {
    assert_eq!(
        error_text(&["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error_text(&["get", "a", "b"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        error_text(&["ping", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        error_text(&["mset", "a", "1", "b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        error_text(&["set", "k", "v", "NX", "XX"]),
        "ERR syntax error"
    );
    assert_eq!(error_text(&["set", "k", "v", "bogus"]), "ERR syntax error");
    assert_eq!(
        error_text(&["select", "x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error_text(&["consistency", "1"]),
        "ERR wrong number of arguments for 'consistency' command"
    );
}

#[test]
fn parses_valid_commands() {
    assert_eq!(parse(&["PiNg"]), Ok(Command::Ping(None)));
    assert_eq!(
        parse(&["mset", "a", "1", "b", "2"]),
        Ok(Command::MSet(vec![
            ("a".into(), "1".into()),
            ("b".into(), "2".into())
        ]))
    );
    assert_eq!(
        parse(&["dendrite.consistency", "2", "1"]),
        Ok(Command::Consistency(Some((2, 1))))
    );
    assert_eq!(
        parse(&["command", "COUNT"]),
        Ok(Command::CommandQuery(CommandQuery::Count))
    );
    assert_eq!(
        parse(&["command", "docs"]),
        Ok(Command::CommandQuery(CommandQuery::Docs(vec![])))
    );
    assert_eq!(
        parse(&["hello", "3", "setname", "x"]),
        Ok(Command::Hello(Hello {
            protocol: Some(Protocol::Resp3),
            auth: None,
            setname: Some("x".into()),
        }))
    );
}

#[test]
fn every_command_in_the_table_has_a_parser() {
    for spec in COMMANDS {
        let words: Vec<&str> = std::iter::once(spec.name)
            .chain(std::iter::repeat_n(
                "1",
                spec.arity.unsigned_abs() as usize - 1,
            ))
            .collect();
        if let Err(Reply::Error(text)) = parse(&words) {
            assert!(!text.contains("unknown command"), "{}: {text}", spec.name);
        }
        for sub in spec.subcommands {
            let (container, name) = sub.name.split_once('|').unwrap();
            let mut words = vec![container, name];
            words.resize(sub.arity.unsigned_abs() as usize, "1");
            if let Err(Reply::Error(text)) = parse(&words) {
                assert!(!text.contains("unknown subcommand"), "{}: {text}", sub.name);
            }
        }
    }
}

#[test]
fn connection_command_errors_are_worded_like_redis() {
    assert_eq!(
        error_text(&["client", "foo"]),
        "ERR unknown subcommand 'foo'. Try CLIENT HELP."
    );
    assert_eq!(
        error_text(&["CONFIG", "SET", "a", "b"]),
        "ERR unknown subcommand 'SET'. Try CONFIG HELP."
    );
    assert_eq!(
        error_text(&["client", "setname"]),
        "ERR wrong number of arguments for 'client|setname' command"
    );
    assert_eq!(
        error_text(&["command", "getkeys", "get"]),
        "ERR wrong number of arguments for 'command|getkeys' command"
    );
    assert_eq!(
        error_text(&["hello", "4"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        error_text(&["hello", "4", "foo"]),
        "NOPROTO unsupported protocol version"
    );
    assert_eq!(
        error_text(&["hello", "3", "setname"]),
        "ERR Syntax error in HELLO option 'setname'"
    );
    assert_eq!(
        error_text(&["client", "setinfo", "lib-x", "a"]),
        "ERR Unrecognized option 'lib-x'"
    );
    assert_eq!(
        error_text(&["client", "setinfo", "LIB-NAME", "a b"]),
        "ERR LIB-NAME cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        error_text(&["client", "no-evict", "maybe"]),
        "ERR syntax error"
    );
    assert_eq!(error_text(&["client", "list", "x"]), "ERR syntax error");
    assert_eq!(
        error_text(&["reset", "x"]),
        "ERR wrong number of arguments for 'reset' command"
    );
}

#[tokio::test]
async fn hello_three_switches_the_session_and_reset_switches_back() {
    let backend = MemoryBackend::new(1);
    let metrics = Metrics::new();
    let mut session = Session::new(7);
    let hello = parse(&["HELLO", "3", "SETNAME", "app"]).unwrap();
    let (reply, _) = execute(hello, &mut session, &backend, &metrics).await;
    assert_eq!(session.protocol, Protocol::Resp3);
    let wire = reply.to_bytes(Protocol::Resp3);
    assert!(
        wire.starts_with(b"%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{wire:?}"
    );
    assert!(
        wire.ends_with(b"$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$7\r\ncluster\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"),
        "{wire:?}"
    );
    let (reply, _) = execute(Command::Reset, &mut session, &backend, &metrics).await;
    assert_eq!(reply, Reply::Simple("RESET".into()));
    assert_eq!(session.protocol, Protocol::Resp2);
    assert_eq!(session.record.name, None);
}

#[tokio::test]
async fn command_introspection_comes_from_the_table() {
    let backend = MemoryBackend::new(1);
    let metrics = Metrics::new();
    let mut session = Session::new(1);
    let mut run = |words: &[&str]| {
        let command = parse(words).unwrap();
        let (reply, _) =
            futures::executor::block_on(execute(command, &mut session, &backend, &metrics));
        reply
    };
    assert_eq!(run(&["command", "count"]), count_reply(COMMANDS.len()));
    let info = run(&["command", "info", "get", "nosuch"]);
    assert!(
        info.to_bytes(Protocol::Resp2).starts_with(
            b"*2\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        ),
        "{info:?}"
    );
    assert!(info.to_bytes(Protocol::Resp2).ends_with(b"$-1\r\n"));
    assert_eq!(
        run(&["command", "getkeys", "mset", "a", "1", "b", "2"]),
        Reply::Array(vec![Reply::Bulk("a".into()), Reply::Bulk("b".into())])
    );
    assert_eq!(
        run(&["command", "getkeys", "nosuch", "x"]),
        Reply::err("Invalid command specified")
    );
    assert_eq!(
        run(&["config", "get", "databases", "SAVE"]),
        Reply::Map(vec![
            (Reply::text("databases"), Reply::text("1")),
            (Reply::text("SAVE"), Reply::text("")),
        ])
    );
}

#[tokio::test]
async fn consistency_is_checked_against_the_backend() {
    let backend = MemoryBackend::new(2);
    let metrics = Metrics::new();
    let mut session = Session::new(1);
    let set = Command::Consistency(Some((2, 2)));
    assert_eq!(
        execute(set, &mut session, &backend, &metrics).await.0,
        Reply::ok()
    );
    assert_eq!(session.read.level(), 2);
    let too_high = Command::Consistency(Some((3, 1)));
    let (reply, _) = execute(too_high, &mut session, &backend, &metrics).await;
    assert_eq!(
        reply,
        Reply::Error(
            "ERR consistency 3 is out of range: this cluster allows 1..=2 (replicas + 1)".into()
        )
    );
    assert_eq!(
        session.read.level(),
        2,
        "a rejected change keeps the old levels"
    );
}

#[tokio::test]
async fn info_has_server_and_dendrite_sections() {
    let backend = MemoryBackend::new(3);
    let metrics = Metrics::new();
    let mut session = Session::new(1);
    let (reply, _) = execute(Command::Info(None), &mut session, &backend, &metrics).await;
    let Reply::Verbatim(text) = reply else {
        panic!("INFO must be verbatim text")
    };
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.starts_with("# Server\r\nredis_version:"), "{text}");
    assert!(text.contains("max_consistency:3\r\n"));
    assert!(text.contains("# Ring\r\n"), "{text}");
    assert!(text.contains("ring_vnodes:0\r\n"), "{text}");
    let (reply, _) = execute(
        Command::Info(Some("keyspace".into())),
        &mut session,
        &backend,
        &metrics,
    )
    .await;
    assert_eq!(reply, Reply::Verbatim("# Keyspace\r\n".into()));
}

/// A backend whose multi-key writes always fail and whose single writes refuse the value
/// `bad`: what a batch with one invalid pair looks like.
struct RefusesBad(MemoryBackend);

impl Backend for RefusesBad {
    fn get(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<Option<Bytes>, BackendError>> {
        self.0.get(key, read)
    }
    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<(), BackendError>> {
        if value == "bad" {
            let refused = Err(BackendError::Invalid("value refused".into()));
            return Box::pin(futures::future::ready(refused));
        }
        self.0.set(key, value, write)
    }
    fn delete(
        &self,
        keys: Vec<Bytes>,
        write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<usize, BackendError>> {
        self.0.delete(keys, write)
    }
    fn set_expiring(
        &self,
        key: Bytes,
        value: Bytes,
        expires: u64,
        write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<(), BackendError>> {
        self.0.set_expiring(key, value, expires, write)
    }
    fn get_expiring(
        &self,
        key: Bytes,
        read: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<Option<crate::backend::Expiring>, BackendError>>
    {
        self.0.get_expiring(key, read)
    }
    fn local_expiring(&self) -> usize {
        self.0.local_expiring()
    }
    fn modify_many(
        &self,
        keys: Vec<Bytes>,
        op: dtable::ModifyMany,
        write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        self.0.modify_many(keys, op, write)
    }
    fn modify(
        &self,
        key: Bytes,
        op: dtable::Modify,
        write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<dtable::Modified, BackendError>> {
        self.0.modify(key, op, write)
    }
    fn scan(
        &self,
        cursor: u64,
        count: usize,
    ) -> futures::future::BoxFuture<'static, Result<(u64, Vec<Bytes>), BackendError>> {
        self.0.scan(cursor, count)
    }
    fn get_many(
        &self,
        keys: Vec<Bytes>,
        read: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<Vec<Option<Bytes>>, BackendError>> {
        self.0.get_many(keys, read)
    }
    fn set_many(
        &self,
        _writes: Vec<dtable::Write>,
        _write: Consistency,
    ) -> futures::future::BoxFuture<'static, Result<(), BackendError>> {
        let refused = Err(BackendError::Invalid("batch refused".into()));
        Box::pin(futures::future::ready(refused))
    }
    fn local_len(&self) -> usize {
        self.0.local_len()
    }
    fn status(&self) -> crate::node_status::NodeStatus {
        self.0.status()
    }
    fn max_consistency(&self) -> u8 {
        self.0.max_consistency()
    }
}

#[tokio::test]
async fn a_failed_set_batch_answers_each_set_on_its_own() {
    let backend = RefusesBad(MemoryBackend::new(1));
    let session = Session::new(1);
    let pair = |k: &str, v: &str| dtable::Write::lasting(k.to_owned(), v.to_owned());
    let replies = execute_sets(
        vec![pair("a", "1"), pair("b", "bad"), pair("a", "2")],
        &session,
        &backend,
    )
    .await;
    assert_eq!(replies.len(), 3);
    assert_eq!(replies[0], Reply::ok());
    assert!(replies[1].is_error(), "{replies:?}");
    assert_eq!(replies[2], Reply::ok());
    let values = backend
        .get_many(vec!["a".into(), "b".into()], Consistency::default())
        .await
        .unwrap();
    assert_eq!(values, vec![Some(Bytes::from("2")), None]);
}
