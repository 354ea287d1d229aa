//! What each operator endpoint answers.

use std::fmt::Write as _;

use crate::backend::Backend;
use crate::metrics::Metrics;

use super::request::RequestHead;

/// A complete response; always sent with `Connection: close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type` header.
    pub content_type: &'static str,
    /// Extra headers (name, value).
    pub headers: Vec<(&'static str, &'static str)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A plain-text response.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    /// Serializes status line, headers and (unless answering HEAD) body.
    pub fn to_bytes(&self, omit_body: bool) -> Vec<u8> {
        let mut head = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if !omit_body {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Answers one request.
pub fn route(request: &RequestHead, backend: &dyn Backend, metrics: &Metrics) -> Response {
    let known = matches!(request.path.as_str(), "/healthz" | "/status" | "/metrics");
    if !known {
        return Response::text(404, "not found: try /healthz, /status or /metrics\n");
    }
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = Response::text(405, "only GET and HEAD are served\n");
        response.headers.push(("Allow", "GET, HEAD"));
        return response;
    }
    match request.path.as_str() {
        "/healthz" => Response::text(200, "ok\n"),
        "/status" => {
            let mut body = serde_json::to_vec_pretty(&backend.status()).unwrap_or_default();
            body.push(b'\n');
            Response {
                status: 200,
                content_type: "application/json",
                headers: Vec::new(),
                body,
            }
        }
        _ => Response {
            status: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            headers: Vec::new(),
            body: metrics.render().into_bytes(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::MemoryBackend;

    fn get(path: &str) -> Response {
        let request = RequestHead {
            method: "GET".into(),
            path: path.into(),
        };
        route(&request, &MemoryBackend::new(2), &Metrics::new())
    }

    #[test]
    fn routes_known_paths() {
        assert_eq!(get("/healthz").body, b"ok\n");
        let status: serde_json::Value = serde_json::from_slice(&get("/status").body).unwrap();
        assert_eq!(status["max_consistency"], 2);
        assert!(String::from_utf8(get("/metrics").body)
            .unwrap()
            .contains("dendrite_commands_total"));
        assert_eq!(get("/nope").status, 404);
        let post = RequestHead {
            method: "POST".into(),
            path: "/status".into(),
        };
        assert_eq!(
            route(&post, &MemoryBackend::new(1), &Metrics::new()).status,
            405
        );
    }

    #[test]
    fn head_omits_the_body() {
        let bytes = Response::text(200, "ok\n").to_bytes(true);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
