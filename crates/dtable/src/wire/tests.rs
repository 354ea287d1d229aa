//! Tests of the parent module, in a file of their own so the module itself stays short.

use super::fields::*;
use super::*;
use crate::range::MAX_BUCKETS;
use crate::version::Version;
use dendrite::message::{frame, vnode_to_proto};
use dendrite::CodecError;
use proptest::prelude::*;

fn vn(i: u16) -> Vnode {
    Vnode::local("127.0.0.1:7000", i)
}

fn ver(millis: u64) -> Version {
    Version {
        millis,
        logical: 3,
        node: 0xfeed,
    }
}

fn items() -> Vec<(Bytes, Record)> {
    vec![
        (
            Bytes::from_static(b"alpha"),
            Record::value(ver(10), Bytes::from_static(b"one")),
        ),
        (Bytes::from_static(b"beta"), Record::tombstone(ver(11))),
        (
            Bytes::from_static(b""),
            Record::value(ver(12), Bytes::new()),
        ),
    ]
}

fn go_item() -> proto::PbdTableItem {
    proto::PbdTableItem {
        key: Some(Bytes::from_static(b"k")),
        val: Some(Bytes::from_static(b"v")),
        timestamp: Some(123),
        commited: Some(true),
        key_hash: Some(id_bytes(&Id::of_key(b"k"))),
        replica_info: Some(proto::PbdTableReplicaInfo {
            master: Some(vnode_to_proto(&vn(1))),
            vnodes: vec![vnode_to_proto(&vn(2))],
            orphan_vnodes: vec![],
            state: Some(0),
            depth: Some(2),
        }),
        origin: None,
        found: Some(true),
    }
}

fn every_request() -> Vec<Request> {
    let range = IdRange::new(Id::of_key(b"a"), Id::of_key(b"b"));
    vec![
        Request::Status { dest: vn(0) },
        Request::GetItem {
            dest: vn(0),
            key_hash: Id::of_key(b"k"),
            origin: Some(vn(1)),
        },
        Request::SetItem {
            dest: vn(0),
            item: go_item(),
            origin: None,
            demoting: Some(false),
            min_acks: Some(2),
            replica: false,
        },
        Request::SetItem {
            dest: vn(0),
            item: go_item(),
            origin: Some(vn(3)),
            demoting: None,
            min_acks: None,
            replica: true,
        },
        Request::SetMultiItem {
            dest: vn(0),
            origin: None,
            items: vec![go_item(), go_item()],
        },
        Request::ClearReplica {
            dest: vn(0),
            key_hash: Id::of_key(b"k"),
            demoted: true,
            origin: None,
        },
        Request::SetReplicaInfo {
            dest: vn(0),
            key_hash: Id::of_key(b"k"),
            replica_info: proto::PbdTableReplicaInfo::default(),
            origin: Some(vn(2)),
        },
        Request::PromoteKey {
            dest: vn(0),
            item: go_item(),
            origin: None,
        },
        Request::Write {
            dest: vn(0),
            items: items(),
            role: WriteRole::Primary { min_acks: 2 },
            origin: None,
        },
        Request::Write {
            dest: vn(1),
            items: vec![],
            role: WriteRole::Replica,
            origin: None,
        },
        Request::Write {
            dest: vn(1),
            items: items(),
            role: WriteRole::Replica,
            origin: Some(vn(2)),
        },
        Request::Read {
            dest: vn(0),
            keys: vec![Bytes::from_static(b"a"), Bytes::new()],
            primary: true,
        },
        Request::Transfer {
            dest: vn(0),
            items: items(),
            done: true,
        },
        Request::Transfer {
            dest: vn(0),
            items: vec![],
            done: false,
        },
        Request::Digest {
            dest: vn(0),
            range,
            buckets: 64,
        },
        Request::Scan {
            dest: vn(0),
            range: IdRange::whole_ring(Id::ZERO),
            after: Some(Bytes::from_static(b"alpha")),
            limit: 100,
        },
        Request::Scan {
            dest: vn(0),
            range,
            after: None,
            limit: 1,
        },
        Request::Purge {
            dest: vn(2),
            range,
            before_millis: 1_700_000_000_000,
        },
        Request::Probe {
            dest: vn(1),
            sender: None,
        },
        Request::Probe {
            dest: vn(1),
            sender: Some(("a:1".to_string(), 42)),
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"counter"),
            op: Modify::IncrBy(-7),
            min_acks: 2,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::Set {
                value: Bytes::from_static(b"v"),
                when: crate::modify::SetCondition::IfPresent,
                get: true,
                expiry: crate::modify::Expiry::At(1_700_000_000_000),
            },
            min_acks: 1,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::Expire {
                at: 42,
                when: crate::modify::ExpireCondition::IfEarlier,
            },
            min_acks: 2,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::Persist,
            min_acks: 1,
        },
        Request::ModifyMany {
            dest: vn(0),
            keys: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            op: crate::modify::ModifyMany::SetAllIfNone(vec![
                Bytes::from_static(b"1"),
                Bytes::from_static(b"2"),
            ]),
            min_acks: 2,
        },
        Request::ModifyMany {
            dest: vn(0),
            keys: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            op: crate::modify::ModifyMany::Rename { if_absent: true },
            min_acks: 1,
        },
        Request::ModifyMany {
            dest: vn(0),
            keys: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
            op: crate::modify::ModifyMany::Copy { replace: false },
            min_acks: 1,
        },
        Request::ModifyMany {
            dest: vn(0),
            keys: vec![Bytes::from_static(b"d"), Bytes::from_static(b"s")],
            op: crate::modify::ModifyMany::BitOp(crate::modify::BitOperation::Not),
            min_acks: 3,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::GetEx(crate::modify::Expiry::Keep),
            min_acks: 1,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::GetEx(crate::modify::Expiry::Clear),
            min_acks: 1,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::Append(Bytes::from_static(b"tail")),
            min_acks: 3,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::GetDel,
            min_acks: 1,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::SetRange {
                offset: 5,
                value: Bytes::from_static(b"xy"),
            },
            min_acks: 1,
        },
        Request::Modify {
            dest: vn(0),
            key: Bytes::from_static(b"k"),
            op: Modify::SetBit {
                offset: 9,
                bit: true,
            },
            min_acks: 1,
        },
    ]
}

fn every_reply() -> Vec<Reply> {
    vec![
        Reply::Response {
            ok: true,
            error: None,
        },
        Reply::refused("not served"),
        Reply::Item(Box::new(go_item())),
        Reply::MultiItemResponse {
            origin: Some(vn(4)),
            items: vec![go_item()],
        },
        Reply::WriteAck {
            applied: 3,
            error: None,
            moved: None,
        },
        Reply::WriteAck {
            applied: 0,
            error: Some("consistency 3 not reached".into()),
            moved: Some(vn(2)),
        },
        Reply::ReadResp {
            items: vec![
                ReadItem {
                    key: Bytes::from_static(b"a"),
                    record: Some(Record::value(ver(1), Bytes::from_static(b"x"))),
                },
                ReadItem {
                    key: Bytes::from_static(b"b"),
                    record: Some(Record::tombstone(ver(2))),
                },
                ReadItem {
                    key: Bytes::from_static(b"c"),
                    record: None,
                },
            ],
            moved: None,
            authoritative: true,
        },
        Reply::ReadResp {
            items: vec![],
            moved: Some(vn(3)),
            authoritative: false,
        },
        Reply::DigestResp {
            buckets: vec![0, 1, u64::MAX],
            incarnation: 7,
        },
        Reply::ScanResp {
            items: items(),
            more: true,
        },
        Reply::ProbeResp {
            incarnation: u64::MAX,
            client_address: None,
            console_address: None,
        },
        Reply::ProbeResp {
            incarnation: 7,
            client_address: Some("10.0.0.1:6379".to_string()),
            console_address: Some("10.0.0.1:8080".to_string()),
        },
        Reply::ModifyResp(ModifyAnswer::Done(Modified::Integer(-3))),
        Reply::ModifyResp(ModifyAnswer::Done(Modified::Length(9))),
        Reply::ModifyResp(ModifyAnswer::Done(Modified::Set {
            stored: false,
            old: Some(Bytes::from_static(b"was")),
        })),
        Reply::ModifyResp(ModifyAnswer::Done(Modified::Old(None))),
        Reply::ModifyResp(ModifyAnswer::Refused(ModifyError::Overflow)),
        Reply::ModifyResp(ModifyAnswer::Failed("consistency not reached".into())),
        Reply::ModifyResp(ModifyAnswer::Moved(vn(3))),
    ]
}

#[test]
fn every_request_round_trips() {
    for request in every_request() {
        let frame = request.encode();
        assert_eq!(frame[0], request.kind());
        assert_eq!(Request::decode(frame), Ok(request));
    }
}

#[test]
fn every_reply_round_trips() {
    for reply in every_reply() {
        let frame = reply.encode();
        assert_eq!(frame[0], reply.kind());
        assert_eq!(Reply::decode(frame), Ok(reply));
    }
}

#[test]
fn requests_and_replies_do_not_cross() {
    for request in every_request() {
        assert!(matches!(
            Reply::decode(request.encode()),
            Err(CodecError::UnknownType(_))
        ));
    }
    for reply in every_reply() {
        assert!(matches!(
            Request::decode(reply.encode()),
            Err(CodecError::UnknownType(_))
        ));
    }
}

#[test]
fn bad_frames_are_typed_errors() {
    assert_eq!(Request::decode(Bytes::new()), Err(CodecError::Empty));
    assert_eq!(Reply::decode(Bytes::new()), Err(CodecError::Empty));
    assert_eq!(
        Request::decode(Bytes::from_static(&[0x3f])),
        Err(CodecError::UnknownType(0x3f))
    );
    // Status without dest (a Go required field).
    assert_eq!(
        Request::decode(Bytes::from_static(&[kind::STATUS])),
        Err(CodecError::MissingField {
            kind: kind::STATUS,
            field: "dest"
        })
    );
    // Write without dest or role.
    assert_eq!(
        Request::decode(frame(kind::WRITE, &proto::PbdTableWrite::default())),
        Err(missing(kind::WRITE, "role"))
    );
    let no_dest = proto::PbdTableWrite {
        role: Some(1),
        ..Default::default()
    };
    assert_eq!(
        Request::decode(frame(kind::WRITE, &no_dest)),
        Err(missing(kind::WRITE, "dest"))
    );
    // Primary write with no consistency, or zero.
    let no_acks = proto::PbdTableWrite {
        dest: Some(vnode_to_proto(&vn(0))),
        role: Some(0),
        ..Default::default()
    };
    assert_eq!(
        Request::decode(frame(kind::WRITE, &no_acks)),
        Err(missing(kind::WRITE, "minAcks"))
    );
    let zero_acks = proto::PbdTableWrite {
        min_acks: Some(0),
        ..no_acks.clone()
    };
    assert!(matches!(
        Request::decode(frame(kind::WRITE, &zero_acks)),
        Err(CodecError::Invalid { .. })
    ));
    let bad_role = proto::PbdTableWrite {
        role: Some(7),
        ..no_acks
    };
    assert!(matches!(
        Request::decode(frame(kind::WRITE, &bad_role)),
        Err(CodecError::Invalid { .. })
    ));
    // An item without a version, or with a partial version.
    let unversioned = proto::PbdTableTransfer {
        dest: Some(vnode_to_proto(&vn(0))),
        items: vec![proto::PbdTableVersionedItem {
            expires: None,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            version: None,
        }],
        done: Some(true),
    };
    assert_eq!(
        Request::decode(frame(kind::TRANSFER, &unversioned)),
        Err(missing(kind::TRANSFER, "items.version"))
    );
    let partial = proto::PbdTableTransfer {
        items: vec![proto::PbdTableVersionedItem {
            expires: None,
            key: Some(Bytes::from_static(b"k")),
            value: None,
            version: Some(proto::PbdTableVersion {
                millis: Some(1),
                logical: None,
                node: Some(1),
            }),
        }],
        ..unversioned
    };
    assert_eq!(
        Request::decode(frame(kind::TRANSFER, &partial)),
        Err(missing(kind::TRANSFER, "version.logical"))
    );
    // A range end that is not an id; too many buckets.
    let short_id = proto::PbdTableDigestReq {
        dest: Some(vnode_to_proto(&vn(0))),
        from: Some(Bytes::from_static(b"abc")),
        to: Some(id_bytes(&Id::ZERO)),
        buckets: Some(4),
    };
    assert!(matches!(
        Request::decode(frame(kind::DIGEST_REQ, &short_id)),
        Err(CodecError::Invalid { .. })
    ));
    let too_many = proto::PbdTableDigestReq {
        from: Some(id_bytes(&Id::ZERO)),
        buckets: Some(MAX_BUCKETS as u32 + 1),
        ..short_id
    };
    assert!(matches!(
        Request::decode(frame(kind::DIGEST_REQ, &too_many)),
        Err(CodecError::Invalid { .. })
    ));
    // A read answer with a value but no version.
    let orphan_value = proto::PbdTableReadResp {
        items: vec![proto::PbdTableReadItem {
            expires: None,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            version: None,
        }],
        moved: None,
        authoritative: None,
    };
    assert!(matches!(
        Reply::decode(frame(kind::READ_RESP, &orphan_value)),
        Err(CodecError::Invalid { .. })
    ));
    // Invalid protobuf.
    assert!(matches!(
        Request::decode(Bytes::from_static(&[kind::READ, 0x0a, 0x05, 0x01])),
        Err(CodecError::Malformed { .. } | CodecError::MissingField { .. })
    ));
    assert!(matches!(
        Reply::decode(Bytes::from_static(&[kind::WRITE_ACK, 0xff])),
        Err(CodecError::Malformed { .. })
    ));
}

#[test]
fn truncated_frames_never_decode_to_the_original() {
    for request in every_request() {
        let frame = request.encode();
        for cut in 1..frame.len() {
            if let Ok(decoded) = Request::decode(frame.slice(..cut)) {
                assert_ne!(decoded, request, "a {cut}-byte prefix decoded as the whole");
            }
        }
    }
    for reply in every_reply() {
        let frame = reply.encode();
        for cut in 1..frame.len() {
            if let Ok(decoded) = Reply::decode(frame.slice(..cut)) {
                assert_ne!(decoded, reply, "a {cut}-byte prefix decoded as the whole");
            }
        }
    }
}

fn any_record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
        prop::option::of(any::<u64>()),
    )
        .prop_map(|(millis, logical, node, value, expires)| {
            let version = Version {
                millis,
                logical,
                node,
            };
            Record::with_deadline(version, value.map(Bytes::from), expires)
        })
}

proptest! {
    #[test]
    fn garbage_never_panics(k in 0x20u8..0x50, bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut frame = vec![k];
        frame.extend(bytes);
        let frame = Bytes::from(frame);
        let _ = Request::decode(frame.clone());
        let _ = Reply::decode(frame);
    }

    #[test]
    fn writes_round_trip(
        entries in prop::collection::vec((prop::collection::vec(any::<u8>(), 0..16), any_record()), 0..20),
        min_acks in 1u32..5,
    ) {
        let items: Vec<(Bytes, Record)> = entries.into_iter().map(|(k, r)| (Bytes::from(k), r)).collect();
        let request = Request::Write { dest: vn(9), items: items.clone(), role: WriteRole::Primary { min_acks }, origin: None };
        prop_assert_eq!(Request::decode(request.encode()), Ok(request));
        let reply = Reply::ScanResp { items, more: false };
        prop_assert_eq!(Reply::decode(reply.encode()), Ok(reply));
    }
}
