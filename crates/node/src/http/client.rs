//! A small HTTP/1.1 GET client over hyper's client connection, used by `dendrite status`, the
//! console's peer gathering and the tests. hyper reads the body as the server framed it
//! (Content-Length or chunked), so a response is complete however the server sends it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Responses larger than this are refused.
const MAX_RESPONSE_LEN: usize = 16 * 1024 * 1024;

/// A response received by [`http_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// The header block (without the status line): one `Name: value` line per header, names
    /// in the title case servers write them in, lines separated by CRLF.
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Why [`http_get`] failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// Could not connect.
    #[error("HTTP request to {addr} failed: {source}; is the node running with --http {addr}?")]
    Io {
        /// The address asked.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The connection failed or the answer was not HTTP/1.x (hyper's reason).
    #[error(
        "HTTP request to {addr} failed: {source}; is {addr} a dendrite node's --http address?"
    )]
    Http {
        /// The address asked.
        addr: String,
        /// hyper's error.
        source: hyper::Error,
    },
    /// No complete response within the timeout.
    #[error("HTTP request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// The address asked.
        addr: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The request could not be made or the response was refused.
    #[error("malformed HTTP exchange with {addr}: {reason}")]
    Malformed {
        /// The address asked.
        addr: String,
        /// What was wrong.
        reason: String,
    },
}

/// Sends `GET path` to `addr` (`host:port`) and reads the whole response.
pub async fn http_get(
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<HttpResponse, HttpClientError> {
    http_get_authorized(addr, path, timeout, None).await
}

/// [`http_get`] with an `Authorization` header (its value, e.g. `Basic ...`) when given: how
/// one node's console asks another's, which may require the cluster's password.
pub async fn http_get_authorized(
    addr: &str,
    path: &str,
    timeout: Duration,
    authorization: Option<&str>,
) -> Result<HttpResponse, HttpClientError> {
    match tokio::time::timeout(timeout, exchange(addr, path, authorization)).await {
        Ok(result) => result,
        Err(_) => Err(HttpClientError::Timeout {
            addr: addr.to_owned(),
            timeout,
        }),
    }
}

/// Stops the task driving a connection when the exchange ends, or is dropped on timeout.
struct ConnectionTask(tokio::task::AbortHandle);

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn exchange(
    addr: &str,
    path: &str,
    authorization: Option<&str>,
) -> Result<HttpResponse, HttpClientError> {
    let http = |source| HttpClientError::Http {
        addr: addr.to_owned(),
        source,
    };
    let malformed = |reason: String| HttpClientError::Malformed {
        addr: addr.to_owned(),
        reason,
    };
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HttpClientError::Io {
            addr: addr.to_owned(),
            source,
        })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
            .await
            .map_err(http)?;
    // The connection ends with the exchange: an error there reaches `send_request` too.
    let _task = ConnectionTask(tokio::spawn(connection).abort_handle());
    let mut request = Request::get(path)
        .header(header::HOST, addr)
        .header(header::CONNECTION, "close");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let request = request
        .body(Body::empty())
        .map_err(|e| malformed(format!("cannot ask for {path:?}: {e}")))?;
    let response = sender.send_request(request).await.map_err(http)?;
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(Body::new(body), MAX_RESPONSE_LEN)
        .await
        .map_err(|e| {
            malformed(format!(
                "body not read: {e} (at most {MAX_RESPONSE_LEN} bytes)"
            ))
        })?;
    Ok(HttpResponse {
        status: parts.status.as_u16(),
        headers: header_block(&parts.headers),
        body: body.to_vec(),
    })
}

/// `headers` as the lines of a header block, names in title case (`Content-Type`).
fn header_block(headers: &HeaderMap) -> String {
    headers
        .iter()
        .map(|(name, value)| {
            format!(
                "{}: {}",
                title_case(name.as_str()),
                String::from_utf8_lossy(value.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// `content-type` as `Content-Type`: each word's first letter in upper case.
fn title_case(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper { c.to_ascii_uppercase() } else { c };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Serves `answer` once to the first client, after reading its request head.
    async fn serve_once(answer: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
                head.push(byte[0]);
            }
            stream.write_all(answer).await.unwrap();
            // Keep the connection open: the client must stop at the body's framing.
            let _ = stream.read(&mut byte).await;
        });
        addr
    }

    #[tokio::test]
    async fn reads_bodies_as_framed() {
        let wait = Duration::from_secs(5);
        let addr =
            serve_once(b"HTTP/1.1 404 Not Found\r\nx-test: b\r\ncontent-length: 7\r\n\r\nmissing")
                .await;
        let response = http_get(&addr, "/", wait).await.unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.headers, "X-Test: b\r\nContent-Length: 7");
        assert_eq!(response.body, b"missing");

        let addr = serve_once(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .await;
        assert_eq!(http_get(&addr, "/", wait).await.unwrap().body, b"abcde");

        let addr = serve_once(b"SMTP 200\r\n\r\n").await;
        assert!(matches!(
            http_get(&addr, "/", wait).await,
            Err(HttpClientError::Http { .. })
        ));
    }
}
