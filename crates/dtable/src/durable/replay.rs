//! Reading a segment or snapshot back, frame by frame, and telling where it stops being good.

use std::path::Path;

use super::error::DurableError;
use super::format::{decode, Decoded, Frame};

/// The first bytes of every log segment.
pub const SEGMENT_MAGIC: &[u8; 8] = b"DNDLOG1\n";
/// The first bytes of every snapshot.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"DNDSNP1\n";

/// Where and how a file stops being a sequence of good records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset of the first byte that is not part of a good record.
    pub offset: u64,
    /// What is wrong there.
    pub reason: &'static str,
    /// Is it a write cut short: a last record that ends early, or only zeros from `offset` to
    /// the end of the file? At the end of the last segment that is a crash mid-write, which
    /// recovery cuts off; anywhere else, and any other damage, refuses to start.
    pub torn: bool,
}

/// What reading a file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileScan {
    /// Good records and removals read (an end frame not counted).
    pub records: u64,
    /// The file's length.
    pub file_len: u64,
    /// The count in the file's end frame, if it has one (snapshots do).
    pub end: Option<u64>,
    /// Where the file goes bad, if it does.
    pub damage: Option<Damage>,
}

impl FileScan {
    /// The length of the good part: where a repair cuts the file.
    pub fn good_len(&self) -> u64 {
        self.damage.as_ref().map_or(self.file_len, |d| d.offset)
    }
}

/// Reads the file at `path`, which must start with `magic`, and calls `each` with every good
/// record or removal ([`Frame::Record`], [`Frame::Removal`]) up to the first damage.
pub fn replay(
    path: &Path,
    magic: &[u8; 8],
    each: impl FnMut(Frame),
) -> Result<FileScan, DurableError> {
    let buf = std::fs::read(path).map_err(|e| DurableError::io("cannot read", path, e))?;
    Ok(scan(&buf, magic, each))
}

/// Reads the bytes of a whole file, which must start with `magic`, and calls `each` with every
/// good record or removal up to the first damage. [`replay`] without the file system: pure, so the fuzz
/// targets (docs/reliability.md, "Fuzzing") can drive it with arbitrary bytes.
pub fn scan(buf: &[u8], magic: &[u8; 8], mut each: impl FnMut(Frame)) -> FileScan {
    let mut scan = FileScan {
        file_len: buf.len() as u64,
        ..FileScan::default()
    };
    if buf.len() < magic.len() {
        let torn = magic.starts_with(buf);
        scan.damage = Some(Damage {
            offset: 0,
            reason: if torn {
                "header cut short"
            } else {
                "not a dendrite log file"
            },
            torn,
        });
        return scan;
    }
    if &buf[..magic.len()] != magic {
        scan.damage = Some(Damage {
            offset: 0,
            reason: "not a dendrite file of this kind (wrong header)",
            torn: false,
        });
        return scan;
    }
    let mut at = magic.len();
    while at < buf.len() {
        let damage = |reason, torn| Damage {
            offset: at as u64,
            reason,
            torn,
        };
        if scan.end.is_some() {
            scan.damage = Some(damage("bytes after the end of the snapshot", false));
            break;
        }
        match decode(&buf[at..]) {
            Decoded::Frame(Frame::Removal { .. }, _) if magic == SNAPSHOT_MAGIC => {
                scan.damage = Some(damage("a removal in a snapshot", false));
                break;
            }
            Decoded::Frame(frame @ (Frame::Record { .. } | Frame::Removal { .. }), used) => {
                each(frame);
                scan.records += 1;
                at += used;
            }
            Decoded::Frame(Frame::End { count }, used) => {
                if magic != SNAPSHOT_MAGIC {
                    scan.damage = Some(damage("a snapshot end in a log segment", false));
                    break;
                }
                if count != scan.records {
                    scan.damage = Some(damage("the snapshot's record count does not match", false));
                    break;
                }
                scan.end = Some(count);
                at += used;
            }
            Decoded::Incomplete => {
                scan.damage = Some(damage("the last record is cut short", true));
                break;
            }
            Decoded::Damaged(reason) => {
                let zeros = buf[at..].iter().all(|byte| *byte == 0);
                scan.damage = Some(if zeros {
                    damage("zeros after the last record", true)
                } else {
                    damage(reason, false)
                });
                break;
            }
        }
    }
    if magic == SNAPSHOT_MAGIC && scan.end.is_none() && scan.damage.is_none() {
        scan.damage = Some(Damage {
            offset: buf.len() as u64,
            reason: "the snapshot has no end record",
            torn: false,
        });
    }
    scan
}
