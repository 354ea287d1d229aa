//! Bounds shared by several layers of a connection.
//!
//! They live apart from the modules that enforce them so that those modules depend one way
//! (connection → handshake → security → limits): the security layer sizes its buffers from the
//! same bound the connection enforces, without reaching back up into the connection.

/// Most parts one message may have; bounds memory for floods of empty parts.
///
/// The connection refuses a message with more parts, and the CURVE layer sizes its largest
/// accepted box from it (a packed box carries a header per part).
pub const MAX_PARTS: usize = 4096;
