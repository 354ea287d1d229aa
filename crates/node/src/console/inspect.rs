//! The key inspector (`/console/key.json`): where a key sits on the ring, which vnodes hold
//! its copies, and what each of them holds, read without repairing or writing anything.
//!
//! Keys are arbitrary bytes: the request names one as text (`?key=`, UTF-8) or as hex
//! (`?hex=`), and the answer gives it back both ways (text with invalid bytes replaced, and
//! hex), so nothing is lost and the page never has to interpret it.

use serde::Serialize;

use super::Console;

/// What the inspector answers for one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    /// The key as text (invalid UTF-8 replaced by U+FFFD): for display only.
    pub text: String,
    /// The key's bytes in hex: exact.
    pub hex: String,
    /// Its ring position, 40 hex digits.
    pub position: String,
    /// Where the position sits on the circle, 0..1.
    pub fraction: f64,
    /// Its Redis Cluster hash slot.
    pub slot: u16,
    /// Its copies: the primary, then the replicas.
    pub copies: Vec<CopyView>,
}

/// What one copy holder holds for the key.
#[derive(Debug, Clone, Serialize)]
pub struct CopyView {
    /// `primary` or `replica`.
    pub role: &'static str,
    /// The vnode's id.
    pub vnode: String,
    /// Its host's ring address.
    pub host: String,
    /// `holds` (a live value), `expired`, `deleted` (a tombstone), `absent`, or `error`.
    pub state: &'static str,
    /// The version held (`millis.logical.node`), when it holds a record.
    pub version: Option<String>,
    /// The value's length in bytes (the value itself is not shown).
    pub value_len: Option<usize>,
    /// The value's deadline, Unix ms.
    pub expires_ms: Option<u64>,
    /// Why the copy could not be read.
    pub error: Option<String>,
}

impl Console {
    /// Inspects `key` (checked against the table's key limits first).
    pub(super) async fn inspect_key(&self, key: &[u8]) -> Result<KeyView, String> {
        let limit = self.table.config().max_key_len;
        if key.is_empty() {
            return Err("the key is empty: type one, or give ?hex=".into());
        }
        if key.len() > limit {
            return Err(format!(
                "the key is {} bytes; keys are at most {limit}",
                key.len()
            ));
        }
        let position = dtable::KeyPosition::of(key).id();
        let copies = self
            .table
            .inspect_copies(key)
            .await
            .map_err(|e| format!("its copies could not be found: {e}"))?;
        let now = dtable::time::system_millis();
        Ok(KeyView {
            text: String::from_utf8_lossy(key).into_owned(),
            hex: hex::encode(key),
            position: position.to_string(),
            fraction: position.high_u64() as f64 / 2f64.powi(64),
            slot: dtable::Slot::of_key(key).number(),
            copies: copies
                .into_iter()
                .map(|copy| copy_view(copy, now))
                .collect(),
        })
    }
}

fn copy_view(copy: dtable::CopyRead, now: u64) -> CopyView {
    let mut view = CopyView {
        role: if copy.primary { "primary" } else { "replica" },
        vnode: copy.vnode.id.to_string(),
        host: copy.vnode.host.to_string(),
        state: "absent",
        version: None,
        value_len: None,
        expires_ms: None,
        error: None,
    };
    match copy.held {
        Err(e) => {
            view.state = "error";
            view.error = Some(e.to_string());
        }
        Ok(None) => {}
        Ok(Some(record)) => {
            let v = record.version;
            view.version = Some(format!("{}.{}.{}", v.millis, v.logical, v.node));
            view.expires_ms = record.expires;
            view.value_len = record.value.as_ref().map(|value| value.len());
            view.state = match (&record.value, record.expires) {
                (None, _) => "deleted",
                (Some(_), Some(deadline)) if deadline <= now => "expired",
                (Some(_), _) => "holds",
            };
        }
    }
    view
}
