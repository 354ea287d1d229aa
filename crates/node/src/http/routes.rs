//! What each operator endpoint answers, as an axum router.
//!
//! Every route answers GET and HEAD (axum strips the body for HEAD); other
//! methods get 405 with `Allow: GET, HEAD`, other paths 404 with a hint.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, MethodRouter};
use axum::Router;

use crate::backend::Backend;
use crate::metrics::Metrics;

/// Content type of the Prometheus text exposition format (version 0.0.4), the one
/// prometheus-client's `prometheus_text` encoder writes.
pub const PROMETHEUS_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What the handlers read: the node's storage front and its metrics registry.
#[derive(Clone)]
struct NodeView {
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
}

/// The operator routes over `backend` and `metrics`.
pub fn router(backend: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", read_only(get(healthz)))
        .route("/status", read_only(get(status)))
        .route("/metrics", read_only(get(prometheus_text)))
        .fallback(not_found)
        .with_state(NodeView { backend, metrics })
}

/// Gives a GET route our 405 answer for every other method.
fn read_only(route: MethodRouter<NodeView>) -> MethodRouter<NodeView> {
    route.fallback(method_not_allowed)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn status(State(view): State<NodeView>) -> impl IntoResponse {
    // Serializing `NodeStatus` (strings, numbers, options, no maps with non-string keys)
    // cannot fail.
    let mut body = serde_json::to_vec_pretty(&view.backend.status()).unwrap_or_default();
    body.push(b'\n');
    ([(header::CONTENT_TYPE, "application/json")], body)
}

async fn prometheus_text(State(view): State<NodeView>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        view.metrics.render(),
    )
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        "not found: try /healthz, /status or /metrics\n",
    )
}

async fn method_not_allowed() -> impl IntoResponse {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "GET, HEAD")],
        "only GET and HEAD are served\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;
    use axum::body::Body;
    use axum::http::{Method, Request, Response};
    use hyper::service::Service as _;
    use hyper_util::service::TowerToHyperService;

    async fn call(method: Method, path: &str) -> (Response<Body>, String) {
        let router = router(Arc::new(MemoryBackend::new(2)), Arc::new(Metrics::new()));
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let response = TowerToHyperService::new(router)
            .call(request)
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (
            Response::from_parts(parts, Body::empty()),
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    fn content_type(response: &Response<Body>) -> &str {
        response.headers()[header::CONTENT_TYPE].to_str().unwrap()
    }

    #[tokio::test]
    async fn routes_known_paths() {
        let (health, body) = call(Method::GET, "/healthz").await;
        assert_eq!((health.status(), body.as_str()), (StatusCode::OK, "ok\n"));
        assert_eq!(content_type(&health), "text/plain; charset=utf-8");

        let (status, body) = call(Method::GET, "/status?pretty=1").await;
        assert_eq!(content_type(&status), "application/json");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["max_consistency"], 2);

        let (metrics, body) = call(Method::GET, "/metrics").await;
        assert_eq!(content_type(&metrics), PROMETHEUS_CONTENT_TYPE);
        assert!(body.contains("dendrite_commands_total"), "{body}");
    }

    #[tokio::test]
    async fn unknown_paths_and_methods() {
        let (missing, body) = call(Method::GET, "/nope").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(body.contains("try /healthz"), "{body}");
        // An unknown path is 404 whatever the method, as before.
        let (missing, _) = call(Method::POST, "/nope").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);

        let (post, body) = call(Method::POST, "/status").await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");
        assert_eq!(body, "only GET and HEAD are served\n");
    }

    #[tokio::test]
    async fn head_omits_the_body() {
        let (head, body) = call(Method::HEAD, "/healthz").await;
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], "3");
        assert!(body.is_empty(), "{body}");
    }
}
