//! A minimal HTTP GET client, used by `dendrite status` and the tests.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Responses larger than this are refused.
const MAX_RESPONSE_LEN: u64 = 16 * 1024 * 1024;

/// A response received by [`http_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Raw header block (without the status line).
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

/// Why [`http_get`] failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    /// Could not connect, write or read.
    #[error("HTTP request to {addr} failed: {source}; is the node running with --http {addr}?")]
    Io {
        /// The address asked.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No complete response within the timeout.
    #[error("HTTP request to {addr} timed out after {timeout:?}")]
    Timeout {
        /// The address asked.
        addr: String,
        /// The limit that passed.
        timeout: Duration,
    },
    /// The response is not HTTP/1.x.
    #[error("malformed HTTP response from {addr}: {reason}")]
    Malformed {
        /// The address asked.
        addr: String,
        /// What was wrong.
        reason: &'static str,
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
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let authorization = authorization
            .map(|value| format!("Authorization: {value}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{authorization}Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE_LEN).read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(HttpClientError::Timeout {
                addr: addr.to_owned(),
                timeout,
            })
        }
        Ok(Err(source)) => {
            return Err(HttpClientError::Io {
                addr: addr.to_owned(),
                source,
            })
        }
        Ok(Ok(raw)) => raw,
    };
    parse_response(&raw).map_err(|reason| HttpClientError::Malformed {
        addr: addr.to_owned(),
        reason,
    })
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, &'static str> {
    let head_end = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or("no blank line after the headers")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "headers are not UTF-8")?;
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err("status line does not start with HTTP/1.x");
    }
    let status = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or("status code is not a number")?;
    Ok(HttpResponse {
        status,
        headers: headers.to_owned(),
        body: raw[head_end + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses() {
        let response = parse_response(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r\nmissing").unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(response.headers, "A: b");
        assert_eq!(response.body, b"missing");
        assert!(parse_response(b"SMTP 200\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n").is_err());
    }
}
