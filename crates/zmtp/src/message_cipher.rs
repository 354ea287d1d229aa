//! Which AEAD seals a CURVE connection's MESSAGE boxes, and its keys per direction.
//!
//! RFC 26 boxes are XSalsa20-Poly1305 ([`crate::message_box`]). Between our own peers that
//! both offer the metadata property [`PROPERTY`] = [`AES_256_GCM`] in INITIATE/READY they are
//! AES-256-GCM ([`crate::aes_gcm`]) instead, with keys derived per direction from the CURVE
//! session key; framing, nonce counters and flags stay as RFC 26 has them. Offered only where
//! the CPU has AES-NI/PCLMUL ([`crate::aes_gcm::available`]); libzmq peers never offer it and
//! get RFC 26 exactly. Design and security argument: docs/wire.md §1.1.

use bytes::Bytes;

use crate::aes_gcm::{self, AesGcmKey};
use crate::curve_message::{MessageOpener, MessageSealer};
use crate::error::Result;
use crate::frame::find_property;
use crate::keys::{PublicKey, SecretKey};
use crate::message_box::{self, MessageKey, TAG_LEN};
use crate::sodium;

/// Metadata property that offers a MESSAGE cipher other than RFC 26's.
pub const PROPERTY: &str = "X-Cipher";
/// Value of [`PROPERTY`] that offers AES-256-GCM.
pub const AES_256_GCM: &[u8] = b"aes256gcm";

const _: () = assert!(TAG_LEN == aes_gcm::TAG_LEN);

/// The AEAD of a CURVE connection's MESSAGE boxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CipherKind {
    /// RFC 26's box: towards libzmq, and between our peers when one does not offer AES-GCM.
    XSalsa20Poly1305,
    /// AES-256-GCM, negotiated between our own peers (docs/wire.md §1.1).
    Aes256Gcm,
}

/// The metadata property to send when `enabled` (the configuration allows AES-GCM) and this
/// CPU runs it; `None` otherwise.
pub fn offer(enabled: bool) -> Option<(String, Bytes)> {
    (enabled && aes_gcm::available())
        .then(|| (PROPERTY.to_string(), Bytes::from_static(AES_256_GCM)))
}

/// The cipher a connection uses: AES-256-GCM when we offered it and the peer's metadata offers
/// it too, else RFC 26's.
pub fn negotiate(offered: bool, peer_metadata: &[(String, Bytes)]) -> CipherKind {
    let theirs = find_property(peer_metadata, PROPERTY).is_some_and(|v| v == AES_256_GCM);
    if offered && theirs {
        CipherKind::Aes256Gcm
    } else {
        CipherKind::XSalsa20Poly1305
    }
}

/// One direction's MESSAGE cipher with its keys.
pub enum MessageCipher {
    /// RFC 26: XSalsa20-Poly1305 with the direction's nonce prefix.
    XSalsa20Poly1305(MessageKey),
    /// AES-256-GCM with the direction's derived keys.
    Aes256Gcm(Box<AesGcmKey>),
}

impl MessageCipher {
    /// Which AEAD this is.
    pub fn kind(&self) -> CipherKind {
        match self {
            MessageCipher::XSalsa20Poly1305(_) => CipherKind::XSalsa20Poly1305,
            MessageCipher::Aes256Gcm(_) => CipherKind::Aes256Gcm,
        }
    }

    /// Encrypts `buffer` in place as box `counter`; returns the tag that precedes it.
    pub fn seal(&mut self, counter: u64, buffer: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        match self {
            MessageCipher::XSalsa20Poly1305(key) => Ok(key.seal(counter, buffer)),
            MessageCipher::Aes256Gcm(key) => key.seal(counter, buffer),
        }
    }

    /// Checks `tag` and decrypts `buffer` in place as box `counter`; `false` if the box is not
    /// authentic (then `buffer` must be dropped).
    pub fn open(&mut self, counter: u64, tag: &[u8], buffer: &mut [u8]) -> bool {
        match self {
            MessageCipher::XSalsa20Poly1305(key) => key.open(counter, tag, buffer),
            MessageCipher::Aes256Gcm(key) => key.open(counter, tag, buffer),
        }
    }
}

/// Which end of the connection we are: it picks the labels of the two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We sent HELLO and INITIATE.
    Client,
    /// We sent WELCOME and READY.
    Server,
}

/// RFC 26 nonce prefix and AES-GCM key label of the client→server direction.
const CLIENT_TO_SERVER: (&[u8; 16], &[u8; 8]) = (b"CurveZMQMESSAGEC", b"ZMQGCM-C");
/// The same for server→client.
const SERVER_TO_CLIENT: (&[u8; 16], &[u8; 8]) = (b"CurveZMQMESSAGES", b"ZMQGCM-S");

/// A finished CURVE handshake: the session key and the nonce counters MESSAGE boxes continue
/// from. [`CurveSession::message_ciphers`] turns it into a sealer and an opener once the cipher
/// is negotiated.
pub struct CurveSession {
    /// `crypto_box_beforenm` of our short-term secret key and the peer's short-term public key.
    box_key: [u8; 32],
    role: Role,
    next_nonce: u64,
    last_peer_nonce: u64,
}

impl CurveSession {
    /// Session between our short-term key `ours` and the peer's `theirs`; our next nonce
    /// counter and the last one we accepted from the peer.
    pub fn new(
        ours: &SecretKey,
        theirs: &PublicKey,
        role: Role,
        next_nonce: u64,
        last_peer_nonce: u64,
    ) -> Self {
        CurveSession {
            box_key: message_box::box_key(ours, theirs),
            role,
            next_nonce,
            last_peer_nonce,
        }
    }

    /// The sealer of our direction and the opener of the peer's, with `kind` boxes. Fails for
    /// AES-256-GCM on a CPU without AES-NI (never negotiated there: we do not offer it).
    pub fn message_ciphers(self, kind: CipherKind) -> Result<(MessageSealer, MessageOpener)> {
        let (ours, theirs) = match self.role {
            Role::Client => (CLIENT_TO_SERVER, SERVER_TO_CLIENT),
            Role::Server => (SERVER_TO_CLIENT, CLIENT_TO_SERVER),
        };
        let cipher = |(prefix, label): (&[u8; 16], &[u8; 8])| -> Result<MessageCipher> {
            Ok(match kind {
                CipherKind::XSalsa20Poly1305 => {
                    MessageCipher::XSalsa20Poly1305(MessageKey::from_box_key(&self.box_key, prefix))
                }
                CipherKind::Aes256Gcm => {
                    MessageCipher::Aes256Gcm(Box::new(AesGcmKey::new(&self.box_key, label)?))
                }
            })
        };
        Ok((
            MessageSealer::new(cipher(ours)?, self.next_nonce),
            MessageOpener::new(cipher(theirs)?, self.last_peer_nonce),
        ))
    }
}

impl Drop for CurveSession {
    fn drop(&mut self) {
        sodium::memzero(&mut self.box_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::keys::KeyPair;
    use crate::ZmtpError;

    fn sessions() -> (CurveSession, CurveSession) {
        let client = KeyPair::generate();
        let server = KeyPair::generate();
        (
            CurveSession::new(&client.secret, &server.public, Role::Client, 3, 1),
            CurveSession::new(&server.secret, &client.public, Role::Server, 2, 2),
        )
    }

    #[test]
    fn negotiation_needs_both_offers_and_the_exact_value() {
        let with = |value: &'static [u8]| vec![(PROPERTY.to_string(), Bytes::from_static(value))];
        assert_eq!(negotiate(true, &with(b"aes256gcm")), CipherKind::Aes256Gcm);
        assert_eq!(
            negotiate(false, &with(b"aes256gcm")),
            CipherKind::XSalsa20Poly1305
        );
        assert_eq!(
            negotiate(true, &with(b"aes128gcm")),
            CipherKind::XSalsa20Poly1305
        );
        assert_eq!(negotiate(true, &[]), CipherKind::XSalsa20Poly1305);
        assert_eq!(offer(false), None);
        assert_eq!(offer(true).is_some(), aes_gcm::available());
    }

    /// Both kinds: frames sealed by one side open on the other, in both directions; replays,
    /// reordering and tampering are refused; a box of one direction never opens in the other.
    #[test]
    fn both_ciphers_round_trip_and_refuse_replays_and_the_other_direction() {
        let mut kinds = vec![CipherKind::XSalsa20Poly1305];
        if aes_gcm::available() {
            kinds.push(CipherKind::Aes256Gcm);
        }
        for kind in kinds {
            let (client, server) = sessions();
            let (mut c_seal, mut c_open) = client.message_ciphers(kind).unwrap();
            let (mut s_seal, mut s_open) = server.message_ciphers(kind).unwrap();
            assert_eq!(c_seal.cipher(), kind);
            assert_eq!(s_open.cipher(), kind);

            let part = Frame::part(Bytes::from(vec![7u8; 1024]), true);
            let first = c_seal.seal(&part).unwrap();
            let second = c_seal.seal(&part).unwrap();
            // Reordered: the second box first, then the first one is too old.
            assert_eq!(s_open.open(second.clone()).unwrap(), part, "{kind:?}");
            assert!(matches!(s_open.open(first), Err(ZmtpError::Protocol(_))));
            // Replayed.
            assert!(matches!(s_open.open(second), Err(ZmtpError::Protocol(_))));

            // A client→server box offered to the client's own opener (the other direction's
            // key), with a counter it would accept.
            let reply = s_seal.seal(&part).unwrap();
            let mut ahead = c_seal.seal(&part).unwrap();
            assert!(matches!(
                c_open.open(ahead.clone()),
                Err(ZmtpError::Protocol(_))
            ));
            assert_eq!(c_open.open(reply).unwrap(), part);

            // Tampered: one ciphertext bit, then one tag bit.
            for at in [ahead.body.len() - 1, 16] {
                let mut body = ahead.body.to_vec();
                body[at] ^= 1;
                let tampered = Frame {
                    body: Bytes::from(body),
                    ..ahead.clone()
                };
                assert!(matches!(s_open.open(tampered), Err(ZmtpError::Protocol(_))));
            }
            ahead.body = ahead.body.slice(..16 + TAG_LEN);
            assert!(
                matches!(s_open.open(ahead), Err(ZmtpError::Protocol(_))),
                "box without a flags byte"
            );
            let next = c_seal.seal(&part).unwrap();
            assert_eq!(s_open.open(next).unwrap(), part);
        }
    }

    #[test]
    fn aes_gcm_boxes_do_not_open_as_rfc_26_boxes() {
        if !aes_gcm::available() {
            return;
        }
        let client = KeyPair::generate();
        let server = KeyPair::generate();
        let session = |role| match role {
            Role::Client => CurveSession::new(&client.secret, &server.public, role, 3, 1),
            Role::Server => CurveSession::new(&server.secret, &client.public, role, 2, 2),
        };
        let (mut aes, _) = session(Role::Client)
            .message_ciphers(CipherKind::Aes256Gcm)
            .unwrap();
        let (_, mut salsa) = session(Role::Server)
            .message_ciphers(CipherKind::XSalsa20Poly1305)
            .unwrap();
        let wire = aes
            .seal(&Frame::part(Bytes::from_static(b"x"), false))
            .unwrap();
        assert!(salsa.open(wire).is_err());
    }
}
