//! Writes the seed corpora under `fuzz/seeds/<target>/`: a handful of valid inputs per fuzz
//! target, made by the product's own encoders (docs/reliability.md, "Fuzzing").
//!
//! ```text
//! cargo run -p dendrite-fuzzing --example write_seeds
//! ```
//!
//! The CURVE HELLO uses a fresh short-term key, so rerunning changes that one file; the rest is
//! deterministic.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use dendrite::{Id, Message, Vnode};
use dendrite_node::resp::encode_request;
use dtable::durable::format::{encode, encode_end, encode_removal};
use dtable::durable::replay::{SEGMENT_MAGIC, SNAPSHOT_MAGIC};
use dtable::{IdRange, Record, Reply, Request, Version, WriteRole};
use zmtp::curve::ClientHandshake;
use zmtp::frame::{Command, Frame, Greeting, Mechanism};
use zmtp::keys::{KeyPair, SecretKey};
use zmtp::z85;

/// The seed files of one target: file name and contents.
type Seeds = Vec<(&'static str, Vec<u8>)>;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let seeds: Vec<(&str, Seeds)> = vec![
        ("frame_decode", frames()),
        ("curve_server", curve()),
        ("z85_decode", z85_texts()),
        ("ring_message", ring()),
        ("dtable_message", dtable()),
        ("resp_request", resp()),
        ("log_format", log()),
    ];
    for (target, files) in seeds {
        let dir: PathBuf = root.join(target);
        std::fs::create_dir_all(&dir)?;
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes)?;
        }
    }
    Ok(())
}

fn frames() -> Seeds {
    let encoded = |frames: &[Frame]| {
        let mut out = BytesMut::new();
        for frame in frames {
            frame.encode(&mut out);
        }
        out.to_vec()
    };
    let mut greeting = Greeting::new(Mechanism::Null, false).encode().to_vec();
    let ready = Command::ready(&[("Socket-Type".to_string(), Bytes::from_static(b"DEALER"))]);
    greeting.extend(encoded(&[Frame::command(&ready)]));
    vec![
        ("greeting_ready", greeting),
        (
            "message",
            encoded(&[
                Frame::part(Bytes::from_static(b"key"), true),
                Frame::part(Bytes::from_static(b"value"), false),
            ]),
        ),
        (
            "ping_error",
            encoded(&[
                Frame::command(&Command::ping(10, b"ctx")),
                Frame::command(&Command::error("no such mechanism")),
            ]),
        ),
        (
            "long_part",
            encoded(&[Frame::part(Bytes::from(vec![b'x'; 300]), false)]),
        ),
    ]
}

fn curve() -> Seeds {
    let server = SecretKey::from_bytes([7u8; 32]).public_key();
    let mut seeds = vec![("empty_hello", vec![0u8])];
    if let Ok(hello) = ClientHandshake::new(KeyPair::generate(), server).hello() {
        // The first byte is where the target splits HELLO from INITIATE: all of it is HELLO.
        let mut input = vec![u8::try_from(hello.body.len()).unwrap_or(u8::MAX)];
        input.extend_from_slice(&hello.body);
        seeds.push(("client_hello", input));
        seeds.push(("hello_command", hello.encode().to_vec()));
    }
    seeds
}

fn z85_texts() -> Seeds {
    let key = SecretKey::from_bytes([7u8; 32]).public_key().to_z85();
    vec![
        ("key", key.into_bytes()),
        (
            "hello_world",
            z85::encode(b"\x86\x4f\xd2\x6f\xb5\x59\xf7\x5b")
                .unwrap_or_default()
                .into_bytes(),
        ),
        ("bytes", vec![0, 1, 2, 3, 250, 251, 252, 253]),
    ]
}

fn vnode(index: u16) -> Vnode {
    Vnode::local("127.0.0.1:7000", index)
}

fn ring() -> Seeds {
    let messages = [
        ("ping", Message::Ping { version: 1 }),
        (
            "ack",
            Message::Ack {
                version: 1,
                ok: true,
            },
        ),
        ("err", Message::error("no such vnode")),
        ("list_vnodes", Message::ListVnodes),
        (
            "find_successors",
            Message::FindSuccessors {
                key: Id::of_key(b"greeting"),
                dest: vnode(0),
                limit: Some(3),
            },
        ),
        (
            "leave",
            Message::Leave {
                source: vnode(1),
                dest: vnode(2),
                successors: vec![vnode(3), vnode(4)],
                predecessor: Some(vnode(0)),
            },
        ),
        (
            "notify",
            Message::Notify {
                dest: vnode(1),
                vnode: vnode(0),
            },
        ),
    ];
    messages
        .into_iter()
        .map(|(name, m)| (name, m.encode().to_vec()))
        .collect()
}

fn record(value: Option<&'static [u8]>, expires: Option<u64>) -> Record {
    Record {
        version: Version {
            millis: 1_700_000_000_000,
            logical: 2,
            node: 7,
        },
        value: value.map(Bytes::from_static),
        expires,
    }
}

fn dtable() -> Seeds {
    let range = IdRange::new(Id::of_key(b"a"), Id::of_key(b"b"));
    let items = vec![
        (Bytes::from_static(b"k"), record(Some(b"v"), None)),
        (Bytes::from_static(b"gone"), record(None, None)),
        (
            Bytes::from_static(b"ttl"),
            record(Some(b"soon"), Some(1_700_000_060_000)),
        ),
    ];
    let requests = [
        ("status", Request::Status { dest: vnode(0) }),
        (
            "read",
            Request::Read {
                dest: vnode(0),
                keys: vec![Bytes::from_static(b"k")],
                primary: true,
            },
        ),
        (
            "write",
            Request::Write {
                dest: vnode(0),
                items,
                role: WriteRole::Primary { min_acks: 2 },
                origin: None,
            },
        ),
        (
            "digest",
            Request::Digest {
                dest: vnode(1),
                range,
                buckets: 16,
            },
        ),
        (
            "probe",
            Request::Probe {
                dest: vnode(1),
                sender: Some(("node-a".to_string(), 7)),
            },
        ),
    ];
    let replies = [
        (
            "response",
            Reply::Response {
                ok: true,
                error: None,
            },
        ),
        ("refused", Reply::refused("not the primary")),
        (
            "write_ack",
            Reply::WriteAck {
                applied: 3,
                error: None,
                moved: Some(vnode(2)),
            },
        ),
        (
            "digest_resp",
            Reply::DigestResp {
                buckets: vec![1, 2, 3],
                incarnation: 9,
            },
        ),
    ];
    let mut seeds: Vec<_> = requests
        .into_iter()
        .map(|(n, r)| (n, r.encode().to_vec()))
        .collect();
    seeds.extend(replies.into_iter().map(|(n, r)| (n, r.encode().to_vec())));
    seeds
}

fn resp() -> Seeds {
    let multibulk = |seed: u8, requests: &[&[&str]]| {
        let mut out = BytesMut::new();
        out.extend_from_slice(&[seed]);
        for args in requests {
            encode_request(args, &mut out);
        }
        out.to_vec()
    };
    let inline = |seed: u8, text: &str| {
        let mut out = vec![seed];
        out.extend_from_slice(text.as_bytes());
        out
    };
    vec![
        ("get", multibulk(1, &[&["GET", "k"]])),
        (
            "pipeline",
            multibulk(
                2,
                &[
                    &["SET", "k", "v", "EX", "10"],
                    &["INCRBY", "n", "5"],
                    &["MGET", "a", "b"],
                ],
            ),
        ),
        (
            "cluster",
            multibulk(3, &[&["CLUSTER", "SLOTS"], &["CLIENT", "SETNAME", "x"]]),
        ),
        (
            "inline",
            inline(4, "PING\r\nSET \"a b\" 'c\\'d' \"\\x41\"\r\n\r\nGET k\n"),
        ),
        ("null_bulk", inline(5, "*1\r\n$-1\r\n*0\r\n")),
    ]
}

fn log() -> Seeds {
    let mut segment = SEGMENT_MAGIC.to_vec();
    encode(&mut segment, b"k", &record(Some(b"v"), None));
    encode(&mut segment, b"gone", &record(None, None));
    encode_removal(&mut segment, b"gone", &record(None, None).version);
    encode(
        &mut segment,
        b"ttl",
        &record(Some(b"soon"), Some(1_700_000_060_000)),
    );
    let mut torn = segment.clone();
    torn.truncate(torn.len() - 3);
    let mut zeros = segment.clone();
    zeros.extend_from_slice(&[0; 24]);
    let mut snapshot = SNAPSHOT_MAGIC.to_vec();
    encode(&mut snapshot, b"k", &record(Some(b"v"), None));
    encode(
        &mut snapshot,
        b"ttl",
        &record(Some(b"soon"), Some(1_700_000_060_000)),
    );
    encode_end(&mut snapshot, 2);
    let mut frame = Vec::new();
    encode(&mut frame, b"key", &record(Some(b"value"), None));
    vec![
        ("segment", segment),
        ("torn_segment", torn),
        ("zero_tail", zeros),
        ("snapshot", snapshot),
        ("frame", frame),
    ]
}
