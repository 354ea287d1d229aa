//! RESP requests: the incremental request parser (multibulk and inline), then command
//! validation of what parses (docs/redis-compat.md).

use bytes::{Bytes, BytesMut};
use dendrite_node::resp::commands::Command;
use dendrite_node::resp::{encode_request, ParseLimits, ProtocolError, RequestParser};

/// The clock `Command::parse_at` counts relative times from: fixed, so a run is repeatable.
const NOW_MILLIS: u64 = 1_700_000_000_000;

/// Limits small enough that short inputs reach every limit check.
const SMALL: ParseLimits = ParseLimits {
    max_bulk_len: 64,
    max_args: 8,
    max_inline_len: 32,
};

/// What a parser made of a whole input: the requests it returned, then the error that ended
/// the connection, if one did.
#[derive(Debug, PartialEq)]
struct Parsed {
    requests: Vec<Vec<Bytes>>,
    error: Option<ProtocolError>,
}

/// The first byte picks how the rest is cut into reads; the rest is what the client sent.
/// Whatever the cutting, the parser must return the same requests and the same error as when
/// the input arrives in one read; every request must survive re-encoding (what a client
/// library sends) unchanged; and validating it as a command must not panic.
pub fn resp_request(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    for limits in [ParseLimits::default(), SMALL] {
        let whole = parse(limits, input, &mut std::iter::repeat(input.len().max(1)));
        let chunked = parse(limits, input, &mut read_sizes(seed));
        assert_eq!(
            whole, chunked,
            "cutting the input into reads changed the parse"
        );
        for args in whole.requests {
            let mut wire = BytesMut::new();
            encode_request(&args, &mut wire);
            let mut parser = RequestParser::new(ParseLimits::default());
            assert_eq!(parser.next_request(&mut wire), Ok(Some(args.clone())));
            assert!(wire.is_empty(), "re-encoded request left bytes behind");
            let _ = Command::parse_at(args, NOW_MILLIS);
        }
    }
}

/// Feeds `input` to a fresh parser in reads of the sizes `sizes` yields, taking every request
/// after each read, until the input is used up or the parser reports an error.
fn parse(limits: ParseLimits, input: &[u8], sizes: &mut dyn Iterator<Item = usize>) -> Parsed {
    let mut parser = RequestParser::new(limits);
    let mut buf = BytesMut::new();
    let mut parsed = Parsed {
        requests: Vec::new(),
        error: None,
    };
    let mut rest = input;
    while !rest.is_empty() {
        let take = sizes.next().unwrap_or(rest.len()).clamp(1, rest.len());
        let (read, after) = rest.split_at(take);
        rest = after;
        buf.extend_from_slice(read);
        loop {
            match parser.next_request(&mut buf) {
                Ok(Some(args)) => parsed.requests.push(args),
                Ok(None) => break,
                Err(error) => {
                    parsed.error = Some(error);
                    return parsed;
                }
            }
        }
    }
    parsed
}

/// Read sizes of 1 to 16 bytes, from a tiny xorshift generator seeded by `seed`.
fn read_sizes(seed: u8) -> impl Iterator<Item = usize> {
    let mut state = u32::from(seed) | 0x9e37_7900;
    std::iter::from_fn(move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        Some((state % 16) as usize + 1)
    })
}
