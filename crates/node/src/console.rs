//! The ring console: a page every node serves at `/` on its HTTP port, with the JSON it polls.
//!
//! - `/` — the page; `/console/console.js`, `/console/console.css` — its script and style,
//!   embedded in the binary (no build step, no CDN: it works offline).
//! - `/console/cluster.json` — the ring and every host ([`cluster`]).
//! - `/console/node.json` — this node's own figures ([`figures`]); other consoles gather it.
//! - `/console/key.json?key=TEXT` or `?hex=HEX` — the key inspector ([`inspect`]); reads only.
//!
//! Everything the page displays is inserted as text (never as HTML), so keys and host names
//! cannot inject markup; the page is also served with a Content-Security-Policy allowing only
//! its own script. Protection: [`auth`]. Design: docs/design.md, *Console*.

pub mod auth;
pub mod cluster;
pub mod figures;
pub mod history;
pub mod inspect;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::Metrics;
use crate::resp::auth::Password;
use crate::slot_watch::SlotWatch;
use crate::table_backend::TableBackend;
use cluster::ClusterView;
use figures::NodeFigures;
use history::History;

/// The page.
const INDEX_HTML: &str = include_str!("console/assets/index.html");
/// Its script: plain JavaScript drawing SVG, no library.
const CONSOLE_JS: &str = include_str!("console/assets/console.js");
/// Its style.
const CONSOLE_CSS: &str = include_str!("console/assets/console.css");

/// Only the page's own script and style may run or load; no inline script, no other origin.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// How long one gathered cluster view is served again: polls from many open pages within it
/// cost the peers nothing more.
const CLUSTER_VIEW_REUSED: Duration = Duration::from_millis(500);

/// What the console reads: the node's table, its ring walk, metrics and load history.
pub struct Console {
    table: dtable::Table,
    slot_watch: Arc<SlotWatch>,
    metrics: Arc<Metrics>,
    history: Arc<History>,
    password: Option<Password>,
    /// What this node sends its peers' consoles: Basic credentials with its own password.
    peer_authorization: Option<String>,
    /// Hosts seen on the ring and when, so those that left are shown down for a while.
    seen_hosts: Mutex<HashMap<String, Instant>>,
    /// The last cluster view and when it was gathered.
    cached: tokio::sync::Mutex<Option<(Instant, Arc<Vec<u8>>)>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

impl Console {
    /// The console of the node behind `backend`, protected by `password` when set. Starts the
    /// load sampler (it stops with the ring).
    pub fn start(
        backend: &TableBackend,
        metrics: Arc<Metrics>,
        password: Option<Password>,
    ) -> Arc<Console> {
        let history = Arc::new(History::default());
        history.spawn(metrics.clone(), backend.table().clone());
        Arc::new(Console {
            table: backend.table().clone(),
            slot_watch: backend.slot_watch().clone(),
            metrics,
            history,
            peer_authorization: password.as_ref().map(auth::basic_credentials),
            password,
            seen_hosts: Mutex::new(HashMap::new()),
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// The console's routes, behind the password when there is one.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/console/console.js", get(script))
            .route("/console/console.css", get(style))
            .route("/console/cluster.json", get(cluster_json))
            .route("/console/node.json", get(node_json))
            .route("/console/key.json", get(key_json))
            .route_layer(from_fn_with_state(self.clone(), auth::require_password))
            .with_state(self.clone())
    }

    /// This node's figures now.
    pub fn own_figures(&self) -> NodeFigures {
        NodeFigures::of(&self.table, &self.metrics, &self.history)
    }

    /// The cluster view as JSON, gathered afresh at most every [`CLUSTER_VIEW_REUSED`].
    async fn cluster_body(&self) -> Arc<Vec<u8>> {
        let mut cached = self.cached.lock().await;
        if let Some((at, body)) = cached.as_ref() {
            if at.elapsed() < CLUSTER_VIEW_REUSED {
                return body.clone();
            }
        }
        let view: ClusterView = self.cluster_view().await;
        let body = Arc::new(serde_json::to_vec(&view).unwrap_or_default());
        *cached = Some((Instant::now(), body.clone()));
        body
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", CONSOLE_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", CONSOLE_CSS)
}

/// A JSON answer that no cache keeps (the page polls it).
fn json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        serde_json::to_vec(&serde_json::json!({ "error": message })).unwrap_or_default(),
    )
}

async fn cluster_json(State(console): State<Arc<Console>>) -> Response {
    let body = console.cluster_body().await;
    json(StatusCode::OK, body.as_ref().clone())
}

async fn node_json(State(console): State<Arc<Console>>) -> Response {
    json(
        StatusCode::OK,
        serde_json::to_vec(&console.own_figures()).unwrap_or_default(),
    )
}

/// The key named by the query string: `key=` percent-encoded bytes (any bytes: `%ff` is the
/// byte 0xff, `+` is a plus, as RFC 3986 reads a query and `encodeURIComponent` writes one), or
/// `hex=` the bytes in hex; an error for the page otherwise.
fn requested_key(query: &str) -> Result<Vec<u8>, String> {
    let mut found: HashMap<&str, Vec<u8>> = HashMap::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "key" && name != "hex" {
            return Err(format!(
                "unknown parameter {name:?}: give ?key=TEXT or ?hex=HEX"
            ));
        }
        let value: Vec<u8> = percent_encoding::percent_decode_str(value).collect();
        if found.insert(name, value).is_some() {
            return Err(format!("{name} is given twice: give it once"));
        }
    }
    match (found.remove("key"), found.remove("hex")) {
        (Some(bytes), None) => Ok(bytes),
        (None, Some(digits)) => hex::decode(digits.trim_ascii())
            .map_err(|e| format!("?hex= is not hex ({e}): give the key's bytes as hex digits")),
        _ => Err("give exactly one of ?key=TEXT or ?hex=HEX".into()),
    }
}

async fn key_json(State(console): State<Arc<Console>>, RawQuery(query): RawQuery) -> Response {
    let key = match requested_key(query.as_deref().unwrap_or_default()) {
        Ok(key) => key,
        Err(why) => return json_error(StatusCode::BAD_REQUEST, &why),
    };
    match console.inspect_key(&key).await {
        Ok(view) => json(
            StatusCode::OK,
            serde_json::to_vec(&view).unwrap_or_default(),
        ),
        Err(why) => json_error(StatusCode::BAD_REQUEST, &why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_as_text_or_hex() {
        assert_eq!(requested_key("key=%3Cscript%3E"), Ok(b"<script>".to_vec()));
        assert_eq!(requested_key("key=a+b%20c"), Ok(b"a+b c".to_vec()));
        assert_eq!(requested_key("key=%ff%00"), Ok(vec![0xff, 0]));
        assert_eq!(requested_key("hex=00ff"), Ok(vec![0, 0xff]));
        assert!(requested_key("hex=zz").unwrap_err().contains("not hex"));
        assert!(requested_key("").is_err());
        assert!(requested_key("key=a&hex=61").is_err());
        assert!(requested_key("key=a&key=b").unwrap_err().contains("twice"));
        assert!(requested_key("nope=a")
            .unwrap_err()
            .contains("unknown parameter"));
    }
}
