//! Protocol-buffer types generated from `proto/dtable.proto` (proto2).
//!
//! These are wire shapes only; the rest of the crate works with the typed
//! [`Request`](crate::wire::Request) / [`Reply`](crate::wire::Reply) that the codec in
//! [`wire`](crate::wire) produces from them.
#![allow(missing_docs, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/dtable.rs"));
