use proptest::prelude::*;

use super::*;

fn record_strategy() -> impl Strategy<Value = (Vec<u8>, Record)> {
    (
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<(u64, u32, u64)>(),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(key, (millis, logical, node), value, expires)| {
            let version = Version {
                millis,
                logical,
                node,
            };
            let record = Record::with_deadline(version, value.map(Bytes::from), expires);
            (key, record)
        })
}

proptest! {
    #[test]
    fn records_round_trip((key, record) in record_strategy()) {
        let mut buf = Vec::new();
        encode(&mut buf, &key, &record);
        let expected = Frame::Record { key: Bytes::from(key), record };
        prop_assert_eq!(decode(&buf), Decoded::Frame(expected, buf.len()));
    }

    #[test]
    fn removals_round_trip((key, record) in record_strategy()) {
        let mut buf = Vec::new();
        encode_removal(&mut buf, &key, &record.version);
        let expected = Frame::Removal { key: Bytes::from(key), version: record.version };
        let mut again = Vec::new();
        encode_frame(&mut again, &expected);
        prop_assert_eq!(&again, &buf);
        prop_assert_eq!(decode(&buf), Decoded::Frame(expected, buf.len()));
    }

    #[test]
    fn every_truncation_is_incomplete((key, record) in record_strategy()) {
        let mut buf = Vec::new();
        encode(&mut buf, &key, &record);
        for cut in 0..buf.len() {
            prop_assert_eq!(decode(&buf[..cut]), Decoded::Incomplete, "cut at {}", cut);
        }
    }

    #[test]
    fn every_flipped_bit_is_caught((key, record) in record_strategy(), bit in any::<usize>()) {
        let mut buf = Vec::new();
        encode(&mut buf, &key, &record);
        let bit = bit % (buf.len() * 8);
        buf[bit / 8] ^= 1 << (bit % 8);
        // A flipped length bit may also make the frame look longer than the buffer.
        prop_assert!(
            matches!(decode(&buf), Decoded::Damaged(_) | Decoded::Incomplete),
            "flipped bit {} went unnoticed", bit
        );
    }
}

#[test]
fn frames_follow_each_other() {
    let version = Version {
        millis: 7,
        logical: 1,
        node: 9,
    };
    let mut buf = Vec::new();
    encode(
        &mut buf,
        b"a",
        &Record::value(version, Bytes::from_static(b"1")),
    );
    encode(&mut buf, b"b", &Record::tombstone(version));
    encode_end(&mut buf, 2);
    let mut at = 0;
    let mut frames = Vec::new();
    while at < buf.len() {
        let Decoded::Frame(frame, used) = decode(&buf[at..]) else {
            panic!("damaged at {at}");
        };
        frames.push(frame);
        at += used;
    }
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[2], Frame::End { count: 2 });
    assert!(
        matches!(&frames[1], Frame::Record { key, record } if key.as_ref() == b"b" && record.is_tombstone())
    );
}

#[test]
fn zeros_are_not_a_record() {
    assert!(matches!(decode(&[0; 64]), Decoded::Damaged(_)));
}

#[test]
fn the_overhead_is_fixed() {
    let version = Version::ZERO;
    let mut buf = Vec::new();
    encode(
        &mut buf,
        b"key",
        &Record::value(version, Bytes::from_static(b"value")),
    );
    assert_eq!(buf.len(), FRAME_HEADER + FIXED + 4 + 3 + 5);
}

#[test]
fn a_removal_with_a_value_or_other_flags_is_malformed() {
    let mut buf = Vec::new();
    encode_removal(&mut buf, b"k", &Version::ZERO);
    // Flag 4 with the tombstone flag, then flag 4 with a value after the key: both checked by
    // a valid checksum, so only the body rules can refuse them.
    for (flags, tail) in [(REMOVAL | TOMBSTONE, &b""[..]), (REMOVAL, &b"v"[..])] {
        let mut body = buf[FRAME_HEADER..].to_vec();
        body[0] = flags;
        body.extend_from_slice(tail);
        let mut frame = vec![0; FRAME_HEADER];
        frame.extend_from_slice(&body);
        finish(&mut frame, 0);
        assert!(matches!(decode(&frame), Decoded::Damaged(_)), "{flags}");
    }
}
