//! Parsing the request line of an HTTP/1.x request head.

/// Request heads larger than this are refused with 431.
pub const MAX_HEAD_LEN: usize = 8 * 1024;

/// The parts of a request the routes look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// `GET`, `HEAD`...
    pub method: String,
    /// The path without the query string, e.g. `/status`.
    pub path: String,
}

/// Why a request head could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The head is not HTTP/1.x.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    /// The head is larger than [`MAX_HEAD_LEN`].
    #[error("request head larger than 8 KiB")]
    HeadTooLarge,
}

impl HttpError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::Malformed(_) => 400,
            HttpError::HeadTooLarge => 431,
        }
    }
}

/// Position of the blank line ending the head (`\r\n\r\n` or `\n\n`), if present.
pub fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|window| window == b"\r\n\r\n");
    let lf = buf.windows(2).position(|window| window == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parses the request line of a head (headers are ignored).
pub fn parse_request_head(head: &[u8]) -> Result<RequestHead, HttpError> {
    let line_end = head
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end])
        .map_err(|_| HttpError::Malformed("request line is not UTF-8"))?
        .trim_end_matches('\r');
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed("expected 'METHOD /path HTTP/1.1'"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed("only HTTP/1.x is served"));
    }
    if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(HttpError::Malformed("method must be an uppercase token"));
    }
    if !target.starts_with('/') {
        return Err(HttpError::Malformed("target must be an absolute path"));
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);
    Ok(RequestHead {
        method: method.to_owned(),
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_lines() {
        let head = parse_request_head(b"GET /status?pretty=1 HTTP/1.1\r\nHost: x").unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/status");
        assert_eq!(
            parse_request_head(b"GET /x"),
            Err(HttpError::Malformed("expected 'METHOD /path HTTP/1.1'"))
        );
        assert_eq!(
            parse_request_head(b"GET /x HTTP/2"),
            Err(HttpError::Malformed("only HTTP/1.x is served"))
        );
        assert!(parse_request_head(b"get /x HTTP/1.1").is_err());
        assert!(parse_request_head(b"GET x HTTP/1.1").is_err());
        assert!(parse_request_head(&[0xff, b' ', b'/', b' ']).is_err());
    }

    #[test]
    fn finds_the_end_of_the_head() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"),
            Some(20)
        );
        assert_eq!(find_head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}
