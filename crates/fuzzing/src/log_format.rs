//! The on-disk format: one record frame, and whole log segments and snapshots read back with
//! their torn-tail and damage classification (docs/design.md, "Durability").

use dtable::durable::format::{decode, encode_frame, Decoded, Frame};
use dtable::durable::replay::{scan, SEGMENT_MAGIC, SNAPSHOT_MAGIC};

/// Decodes arbitrary bytes as one frame and as the contents of a segment and of a snapshot
/// (as given, and behind the right header so the fuzzer need not find it). Never a panic; a
/// decoded frame re-encodes to exactly its bytes; the good part of a file is exactly its good
/// records re-encoded; damage lies within the file, and a torn tail is really torn.
pub fn log_format(data: &[u8]) {
    if let Decoded::Frame(frame, used) = decode(data) {
        let mut again = Vec::new();
        encode_frame(&mut again, &frame);
        assert_eq!(
            Some(&again[..]),
            data.get(..used),
            "a frame re-encodes differently"
        );
    }
    for magic in [SEGMENT_MAGIC, SNAPSHOT_MAGIC] {
        let mut headed = magic.to_vec();
        headed.extend_from_slice(data);
        for file in [data, &headed[..]] {
            check_file(file, magic);
        }
    }
}

/// Scans `file` as a file starting with `magic` and checks what the scan says against the
/// bytes.
fn check_file(file: &[u8], magic: &[u8; 8]) {
    let mut rebuilt = magic.to_vec();
    let mut records = 0u64;
    let found = scan(file, magic, |frame| {
        encode_frame(&mut rebuilt, &frame);
        records += 1;
    });
    assert_eq!(found.file_len, file.len() as u64);
    assert_eq!(found.records, records);
    if let Some(count) = found.end {
        assert_eq!(count, records, "an accepted snapshot end miscounts");
        encode_frame(&mut rebuilt, &Frame::End { count });
    }
    let good = usize::try_from(found.good_len()).unwrap_or(usize::MAX);
    assert!(
        good <= file.len(),
        "damage reported past the end of the file"
    );
    if good == 0 {
        assert_eq!(records, 0, "records read from a file with a bad header");
    } else {
        assert_eq!(
            &rebuilt[..],
            &file[..good],
            "the good part is not its records"
        );
    }
    if let Some(damage) = &found.damage {
        if damage.torn && good >= magic.len() {
            let tail = &file[good..];
            let zeros = tail.iter().all(|byte| *byte == 0);
            assert!(
                zeros || decode(tail) == Decoded::Incomplete,
                "a tail called torn is neither zeros nor a cut-short record"
            );
        }
    }
}
