//! One typed exchange with a vnode: encode the request, call its node (in place when it is
//! this node), decode the reply.

use dendrite::message::kind as ring_kind;
use dendrite::Message;

use super::TableInner;
use crate::error::TableError;
use crate::wire::{Reply, Request};

impl TableInner {
    /// Sends `request` to its destination vnode and decodes the reply.
    pub(super) async fn call(&self, request: &Request) -> Result<Reply, TableError> {
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
