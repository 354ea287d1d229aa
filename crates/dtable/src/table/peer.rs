//! One typed exchange with a vnode: encode the request, call its node (in place when it is
//! this node), decode the reply.

use dendrite::message::kind as ring_kind;
use std::sync::Arc;

use dendrite::{Message, Vnode};

use super::TableInner;
use crate::error::TableError;
use crate::wire::{Reply, Request};

impl TableInner {
    /// Is `vnode` one of this node's own? Its requests are served in place.
    pub(super) fn is_local(&self, vnode: &Vnode) -> bool {
        *vnode.host == *self.ring.local_host()
    }

    /// Sends `request` to its destination vnode and decodes the reply. A request for a vnode of
    /// this node is served in place: no encoding, no decoding, no transport.
    pub(super) async fn call(self: &Arc<Self>, request: Request) -> Result<Reply, TableError> {
        if self.is_local(request.dest()) {
            return Ok(self.clone().serve(request).await);
        }
        let host = request.dest().host.clone();
        let frame = request.encode();
        let call = self.ring.call_frame(&host, frame);
        let reply = match tokio::time::timeout(self.config.request_timeout, call).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(TableError::Unavailable(format!(
                    "{host} did not answer within {:?}",
                    self.config.request_timeout
                )))
            }
        };
        if reply.first() == Some(&ring_kind::ERR) {
            let reason = match Message::decode(reply) {
                Ok(Message::Err { error }) => error,
                _ => "an undecodable error".to_string(),
            };
            return Err(TableError::Protocol {
                host: host.to_string(),
                reason,
            });
        }
        Reply::decode(reply).map_err(|e| TableError::Protocol {
            host: host.to_string(),
            reason: e.to_string(),
        })
    }
}
