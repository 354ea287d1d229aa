//! Ring messages as a typed enum, and the frame codec: `[type: u8][protobuf payload]`.
//!
//! Raw bytes never travel past this module: a frame either decodes into a [`Message`] whose ids
//! are valid [`Id`]s and whose required fields were present, or into a [`CodecError`] that the
//! receiver answers with an `Err` message (docs/wire.md §3).

use bytes::{BufMut, Bytes, BytesMut};

use crate::id::Id;
use crate::presence;
use crate::proto;
use crate::vnode::Vnode;

/// Message type bytes of the ring protocol (docs/wire.md §4).
pub mod kind {
    /// Liveness probe; answered with a `Ping` carrying our version.
    pub const PING: u8 = 0x00;
    /// Generic acknowledgement.
    pub const ACK: u8 = 0x01;
    /// Error reply.
    pub const ERR: u8 = 0x02;
    /// FindSuccessors answer: ask this vnode next.
    pub const FORWARD: u8 = 0x03;
    /// Reserved by the Go original, unused.
    pub const JOIN: u8 = 0x04;
    /// Graceful departure of a vnode, sent to its neighbours.
    pub const LEAVE: u8 = 0x05;
    /// Asks a node for all its vnodes.
    pub const LIST_VNODES: u8 = 0x06;
    /// A list of vnodes (vnodes of a node, successors of a key, a successor list).
    pub const LIST_VNODES_RESP: u8 = 0x07;
    /// Iterative lookup step.
    pub const FIND_SUCCESSORS: u8 = 0x08;
    /// Asks a vnode for its predecessor.
    pub const GET_PREDECESSOR: u8 = 0x09;
    /// A single vnode (the answer to GetPredecessor).
    pub const VNODE: u8 = 0x0A;
    /// "I might be your predecessor."
    pub const NOTIFY: u8 = 0x0B;
    /// Last type byte reserved for the ring; extensions start at `FIRST_EXTENSION`.
    pub const LAST_RING: u8 = 0x1F;
    /// First type byte free for extensions (dtable uses 0x20-0x3F, newer messages 0x40 and up).
    pub const FIRST_EXTENSION: u8 = 0x20;
}

/// Protocol version carried in `Ping` replies.
pub const PROTOCOL_VERSION: i64 = 1;

/// Largest frame the codec accepts (64 MiB); transports may enforce a smaller limit.
pub const MAX_FRAME_LEN: usize = 64 << 20;

/// A decoded ring message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Liveness probe.
    Ping {
        /// Sender's protocol version.
        version: i64,
    },
    /// Acknowledgement.
    Ack {
        /// Sender's protocol version.
        version: i64,
        /// Whether the request succeeded.
        ok: bool,
    },
    /// An error reply; the request failed for the stated reason.
    Err {
        /// What went wrong, in words.
        error: String,
    },
    /// Lookup answer: continue at this vnode.
    Forward {
        /// The next vnode to ask.
        vnode: Vnode,
    },
    /// Reserved by the Go original (carries no payload).
    Join,
    /// `source` leaves the ring; sent to its neighbour `dest`.
    Leave {
        /// The leaving vnode.
        source: Vnode,
        /// The neighbour being told.
        dest: Vnode,
        /// The leaver's successors (its vnodes on the leaving node left out), for its
        /// predecessor to take in its place; empty from a Go peer.
        successors: Vec<Vnode>,
        /// The leaver's predecessor, for its successor to adopt; `None` from a Go peer.
        predecessor: Option<Vnode>,
    },
    /// Request for every vnode of the receiving node.
    ListVnodes,
    /// A list of vnodes.
    ListVnodesResp {
        /// The vnodes, in the order the sender chose (ring order for successor lists).
        vnodes: Vec<Vnode>,
    },
    /// Find the successors of `key`, starting at `dest`.
    FindSuccessors {
        /// Ring position looked up.
        key: Id,
        /// Vnode that should answer.
        dest: Vnode,
        /// How many successors are wanted.
        limit: Option<u32>,
    },
    /// Ask `dest` for its predecessor.
    GetPredecessor {
        /// Vnode asked.
        dest: Vnode,
    },
    /// A single vnode.
    Vnode(Vnode),
    /// `vnode` claims to be `dest`'s predecessor.
    Notify {
        /// Vnode notified.
        dest: Vnode,
        /// The sender.
        vnode: Vnode,
    },
    /// A message of a type registered by an extension (0x20 and up); the payload is not decoded
    /// here but by the extension's handler.
    Extension {
        /// Type byte.
        kind: u8,
        /// Undecoded protobuf payload.
        payload: Bytes,
    },
}

/// A frame that is not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A frame of zero bytes has no type.
    #[error("empty frame: every message starts with a type byte")]
    Empty,
    /// The frame exceeds [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the {max}-byte limit; split the request")]
    TooLarge {
        /// Received length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// A type byte nobody registered.
    #[error("unknown message type 0x{0:02x}: the peer runs a newer or different protocol")]
    UnknownType(u8),
    /// The payload is not valid protobuf for its type.
    #[error("malformed payload for message type 0x{kind:02x}: {reason}")]
    Malformed {
        /// Type byte.
        kind: u8,
        /// Decoder's explanation.
        reason: String,
    },
    /// A proto2 `required` field is absent.
    #[error("message type 0x{kind:02x} lacks required field {field}")]
    MissingField {
        /// Type byte.
        kind: u8,
        /// Field name.
        field: &'static str,
    },
    /// A vnode or key id is not 20 bytes, or a host is empty.
    #[error("message type 0x{kind:02x} carries an invalid {what}")]
    Invalid {
        /// Type byte.
        kind: u8,
        /// What was invalid.
        what: &'static str,
    },
}

impl Message {
    /// The type byte of this message.
    pub fn kind(&self) -> u8 {
        match self {
            Message::Ping { .. } => kind::PING,
            Message::Ack { .. } => kind::ACK,
            Message::Err { .. } => kind::ERR,
            Message::Forward { .. } => kind::FORWARD,
            Message::Join => kind::JOIN,
            Message::Leave { .. } => kind::LEAVE,
            Message::ListVnodes => kind::LIST_VNODES,
            Message::ListVnodesResp { .. } => kind::LIST_VNODES_RESP,
            Message::FindSuccessors { .. } => kind::FIND_SUCCESSORS,
            Message::GetPredecessor { .. } => kind::GET_PREDECESSOR,
            Message::Vnode(_) => kind::VNODE,
            Message::Notify { .. } => kind::NOTIFY,
            Message::Extension { kind, .. } => *kind,
        }
    }

    /// An `Err` message with `error` as its text.
    pub fn error(error: impl Into<String>) -> Message {
        Message::Err {
            error: error.into(),
        }
    }

    /// Encodes into one frame: type byte, then the protobuf payload.
    pub fn encode(&self) -> Bytes {
        match self {
            Message::Ping { version } => {
                frame(kind::PING, &proto::PbProtoPing { version: *version })
            }
            Message::Ack { version, ok } => frame(
                kind::ACK,
                &proto::PbProtoAck {
                    version: *version,
                    ok: *ok,
                },
            ),
            Message::Err { error } => frame(
                kind::ERR,
                &proto::PbProtoErr {
                    error: error.clone(),
                },
            ),
            Message::Forward { vnode } => frame(
                kind::FORWARD,
                &proto::PbProtoForward {
                    vnode: vnode_to_proto(vnode),
                },
            ),
            Message::Join => Bytes::from_static(&[kind::JOIN]),
            Message::Leave {
                source,
                dest,
                successors,
                predecessor,
            } => frame(
                kind::LEAVE,
                &proto::PbProtoLeave {
                    source: vnode_to_proto(source),
                    dest: vnode_to_proto(dest),
                    successors: successors.iter().map(vnode_to_proto).collect(),
                    predecessor: predecessor.as_ref().map(vnode_to_proto),
                },
            ),
            Message::ListVnodes => frame(kind::LIST_VNODES, &proto::PbProtoListVnodes {}),
            Message::ListVnodesResp { vnodes } => frame(
                kind::LIST_VNODES_RESP,
                &proto::PbProtoListVnodesResp {
                    vnodes: vnodes.iter().map(vnode_to_proto).collect(),
                },
            ),
            Message::FindSuccessors { key, dest, limit } => frame(
                kind::FIND_SUCCESSORS,
                &proto::PbProtoFindSuccessors {
                    key: Bytes::copy_from_slice(key.as_bytes()),
                    dest: vnode_to_proto(dest),
                    limit: limit.map(|l| i32::try_from(l).unwrap_or(i32::MAX)),
                },
            ),
            Message::GetPredecessor { dest } => frame(
                kind::GET_PREDECESSOR,
                &proto::PbProtoGetPredecessor {
                    dest: vnode_to_proto(dest),
                },
            ),
            Message::Vnode(vnode) => frame(kind::VNODE, &vnode_to_proto(vnode)),
            Message::Notify { dest, vnode } => frame(
                kind::NOTIFY,
                &proto::PbProtoNotify {
                    dest: vnode_to_proto(dest),
                    vnode: vnode_to_proto(vnode),
                },
            ),
            Message::Extension { kind, payload } => {
                let mut out = BytesMut::with_capacity(1 + payload.len());
                out.put_u8(*kind);
                out.extend_from_slice(payload);
                out.freeze()
            }
        }
    }

    /// Decodes one frame. Types 0x20 and up become [`Message::Extension`] without looking at the
    /// payload; the dispatcher decides whether anyone registered them.
    pub fn decode(frame: Bytes) -> Result<Message, CodecError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(CodecError::TooLarge {
                len: frame.len(),
                max: MAX_FRAME_LEN,
            });
        }
        let Some(&kind) = frame.first() else {
            return Err(CodecError::Empty);
        };
        let payload = frame.slice(1..);
        let k = kind;
        Ok(match kind {
            kind::PING => {
                require(k, &payload, &[(1, "version")])?;
                let m: proto::PbProtoPing = parse(k, payload)?;
                Message::Ping { version: m.version }
            }
            kind::ACK => {
                require(k, &payload, &[(1, "version"), (2, "ok")])?;
                let m: proto::PbProtoAck = parse(k, payload)?;
                Message::Ack {
                    version: m.version,
                    ok: m.ok,
                }
            }
            kind::ERR => {
                require(k, &payload, &[(2, "error")])?;
                let m: proto::PbProtoErr = parse(k, payload)?;
                Message::Err { error: m.error }
            }
            kind::FORWARD => {
                require(k, &payload, &[(1, "vnode")])?;
                let m: proto::PbProtoForward = parse(k, payload)?;
                Message::Forward {
                    vnode: vnode_from_proto(k, m.vnode)?,
                }
            }
            kind::JOIN => Message::Join,
            kind::LEAVE => {
                require(k, &payload, &[(1, "source"), (2, "dest")])?;
                let m: proto::PbProtoLeave = parse(k, payload)?;
                Message::Leave {
                    source: vnode_from_proto(k, m.source)?,
                    dest: vnode_from_proto(k, m.dest)?,
                    successors: m
                        .successors
                        .into_iter()
                        .map(|v| vnode_from_proto(k, v))
                        .collect::<Result<_, _>>()?,
                    predecessor: m.predecessor.map(|v| vnode_from_proto(k, v)).transpose()?,
                }
            }
            kind::LIST_VNODES => {
                let _: proto::PbProtoListVnodes = parse(k, payload)?;
                Message::ListVnodes
            }
            kind::LIST_VNODES_RESP => {
                let m: proto::PbProtoListVnodesResp = parse(k, payload)?;
                let vnodes = m
                    .vnodes
                    .into_iter()
                    .map(|v| vnode_from_proto(k, v))
                    .collect::<Result<_, _>>()?;
                Message::ListVnodesResp { vnodes }
            }
            kind::FIND_SUCCESSORS => {
                require(k, &payload, &[(1, "key"), (2, "dest")])?;
                let m: proto::PbProtoFindSuccessors = parse(k, payload)?;
                let key = Id::from_slice(&m.key).map_err(|_| CodecError::Invalid {
                    kind: k,
                    what: "key (must be a 20-byte id)",
                })?;
                let limit = match m.limit {
                    None => None,
                    Some(l) => Some(u32::try_from(l).map_err(|_| CodecError::Invalid {
                        kind: k,
                        what: "limit (negative)",
                    })?),
                };
                Message::FindSuccessors {
                    key,
                    dest: vnode_from_proto(k, m.dest)?,
                    limit,
                }
            }
            kind::GET_PREDECESSOR => {
                require(k, &payload, &[(1, "dest")])?;
                let m: proto::PbProtoGetPredecessor = parse(k, payload)?;
                Message::GetPredecessor {
                    dest: vnode_from_proto(k, m.dest)?,
                }
            }
            kind::VNODE => {
                require(k, &payload, &[(1, "id"), (2, "host")])?;
                let m: proto::PbProtoVnode = parse(k, payload)?;
                Message::Vnode(vnode_from_proto(k, m)?)
            }
            kind::NOTIFY => {
                require(k, &payload, &[(1, "dest"), (2, "vnode")])?;
                let m: proto::PbProtoNotify = parse(k, payload)?;
                Message::Notify {
                    dest: vnode_from_proto(k, m.dest)?,
                    vnode: vnode_from_proto(k, m.vnode)?,
                }
            }
            k if k >= kind::FIRST_EXTENSION => Message::Extension { kind: k, payload },
            other => return Err(CodecError::UnknownType(other)),
        })
    }
}

/// Builds a frame from a type byte and any prost message: what extensions use to encode replies.
pub fn frame(kind: u8, message: &impl prost::Message) -> Bytes {
    let mut out = BytesMut::with_capacity(1 + message.encoded_len());
    out.put_u8(kind);
    // Encoding into a BytesMut cannot run out of space: it grows.
    message.encode_raw(&mut out);
    out.freeze()
}

/// Decodes a prost message from an extension payload, checking proto2 required fields first.
///
/// `required` lists `(field number, field name)` pairs that must be present.
pub fn decode_payload<M: prost::Message + Default>(
    kind: u8,
    payload: Bytes,
    required: &[(u32, &'static str)],
) -> Result<M, CodecError> {
    require(kind, &payload, required)?;
    parse(kind, payload)
}

fn require(kind: u8, payload: &[u8], fields: &[(u32, &'static str)]) -> Result<(), CodecError> {
    let numbers: Vec<u32> = fields.iter().map(|(n, _)| *n).collect();
    match presence::first_missing(payload, &numbers) {
        None => Ok(()),
        Some(n) => {
            let field = fields
                .iter()
                .find(|(number, _)| *number == n)
                .map_or("?", |(_, name)| name);
            Err(CodecError::MissingField { kind, field })
        }
    }
}

fn parse<M: prost::Message + Default>(kind: u8, payload: Bytes) -> Result<M, CodecError> {
    M::decode(payload).map_err(|e| CodecError::Malformed {
        kind,
        reason: e.to_string(),
    })
}

/// Converts a vnode into its wire shape.
pub fn vnode_to_proto(vnode: &Vnode) -> proto::PbProtoVnode {
    proto::PbProtoVnode {
        id: Bytes::copy_from_slice(vnode.id.as_bytes()),
        host: vnode.host.to_string(),
    }
}

/// Converts a wire vnode, rejecting a bad id or an empty host.
pub fn vnode_from_proto(kind: u8, vnode: proto::PbProtoVnode) -> Result<Vnode, CodecError> {
    let id = Id::from_slice(&vnode.id).map_err(|_| CodecError::Invalid {
        kind,
        what: "vnode id (must be 20 bytes)",
    })?;
    if vnode.host.is_empty() {
        return Err(CodecError::Invalid {
            kind,
            what: "vnode host (empty)",
        });
    }
    Ok(Vnode::new(id, vnode.host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vn(i: u16) -> Vnode {
        Vnode::local("127.0.0.1:7000", i)
    }

    fn every_message() -> Vec<Message> {
        vec![
            Message::Ping { version: 1 },
            Message::Ack {
                version: 1,
                ok: false,
            },
            Message::error("boom"),
            Message::Forward { vnode: vn(1) },
            Message::Join,
            Message::Leave {
                source: vn(1),
                dest: vn(2),
                successors: vec![],
                predecessor: None,
            },
            Message::Leave {
                source: vn(1),
                dest: vn(2),
                successors: vec![vn(3), vn(4)],
                predecessor: Some(vn(0)),
            },
            Message::ListVnodes,
            Message::ListVnodesResp { vnodes: vec![] },
            Message::ListVnodesResp {
                vnodes: vec![vn(1), vn(2), vn(3)],
            },
            Message::FindSuccessors {
                key: Id::of_key(b"k"),
                dest: vn(0),
                limit: Some(8),
            },
            Message::FindSuccessors {
                key: Id::ZERO,
                dest: vn(0),
                limit: None,
            },
            Message::GetPredecessor { dest: vn(4) },
            Message::Vnode(vn(5)),
            Message::Notify {
                dest: vn(1),
                vnode: vn(2),
            },
            Message::Extension {
                kind: 0x41,
                payload: Bytes::from_static(b"\x08\x01"),
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for m in every_message() {
            let frame = m.encode();
            assert_eq!(frame[0], m.kind());
            assert_eq!(Message::decode(frame), Ok(m));
        }
    }

    #[test]
    fn a_go_peers_leave_without_the_new_fields_still_decodes() {
        // The Go original's PBProtoLeave: fields 1 and 2 only.
        #[derive(Clone, PartialEq, prost::Message)]
        struct GoLeave {
            #[prost(message, required, tag = "1")]
            source: proto::PbProtoVnode,
            #[prost(message, required, tag = "2")]
            dest: proto::PbProtoVnode,
        }
        let go = GoLeave {
            source: vnode_to_proto(&vn(1)),
            dest: vnode_to_proto(&vn(2)),
        };
        assert_eq!(
            Message::decode(frame(kind::LEAVE, &go)),
            Ok(Message::Leave {
                source: vn(1),
                dest: vn(2),
                successors: vec![],
                predecessor: None,
            })
        );
        // And ours, with them, decodes as the Go original's (it ignores unknown fields).
        let ours = Message::Leave {
            source: vn(1),
            dest: vn(2),
            successors: vec![vn(3)],
            predecessor: Some(vn(0)),
        };
        let payload = ours.encode().slice(1..);
        assert_eq!(<GoLeave as prost::Message>::decode(payload).unwrap(), go);
    }

    #[test]
    fn empty_list_vnodes_has_empty_payload() {
        assert_eq!(Message::ListVnodes.encode().as_ref(), &[kind::LIST_VNODES]);
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        assert_eq!(Message::decode(Bytes::new()), Err(CodecError::Empty));
        assert_eq!(
            Message::decode(Bytes::from_static(&[0x0c])),
            Err(CodecError::UnknownType(0x0c))
        );
        assert_eq!(
            Message::decode(Bytes::from_static(&[0x1f, 1, 2])),
            Err(CodecError::UnknownType(0x1f))
        );
        // Ping without its required version.
        assert!(matches!(
            Message::decode(Bytes::from_static(&[kind::PING])),
            Err(CodecError::MissingField {
                field: "version",
                ..
            })
        ));
        // Forward without its vnode.
        assert!(matches!(
            Message::decode(Bytes::from_static(&[kind::FORWARD])),
            Err(CodecError::MissingField { field: "vnode", .. })
        ));
        // A vnode whose id is 3 bytes.
        let short = proto::PbProtoVnode {
            id: Bytes::from_static(b"abc"),
            host: "h:1".into(),
        };
        assert!(matches!(
            Message::decode(frame(kind::VNODE, &short)),
            Err(CodecError::Invalid { .. })
        ));
        let huge = Bytes::from(vec![kind::PING; MAX_FRAME_LEN + 1]);
        assert!(matches!(
            Message::decode(huge),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_frames_never_decode_to_the_original() {
        for m in every_message() {
            let frame = m.encode();
            for cut in 1..frame.len() {
                // A cut at a field boundary may still be valid protobuf, but it must never pass
                // for the whole message.
                if let Ok(decoded) = Message::decode(frame.slice(..cut)) {
                    assert_ne!(
                        decoded, m,
                        "a {cut}-byte prefix decoded as the whole message"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = Message::decode(Bytes::from(bytes));
        }

        #[test]
        fn garbage_after_a_ring_type_never_panics(k in 0u8..0x20, bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let mut frame = vec![k];
            frame.extend(bytes);
            let _ = Message::decode(Bytes::from(frame));
        }

        #[test]
        fn vnode_lists_round_trip(hosts in prop::collection::vec("[a-z]{1,12}:[0-9]{1,5}", 0..20), index in any::<u16>()) {
            let vnodes: Vec<Vnode> = hosts.iter().map(|h| Vnode::local(h, index)).collect();
            let m = Message::ListVnodesResp { vnodes };
            prop_assert_eq!(Message::decode(m.encode()), Ok(m));
        }
    }
}
