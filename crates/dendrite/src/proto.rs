//! Protocol-buffer types generated from `proto/chord.proto` (proto2, the Go original's numbers).
//!
//! These are the wire shapes only; the rest of the crate works with the typed
//! [`Message`](crate::Message) that the codec produces from them.
#![allow(missing_docs, clippy::all)]

include!(concat!(env!("OUT_DIR"), "/dendrite.rs"));
