//! The papers' own numbers, drawn as dashed lines next to ours.
//!
//! Stoica et al., "Chord: a scalable peer-to-peer lookup protocol for Internet applications",
//! IEEE/ACM Transactions on Networking 11(1), 2003 (ToN), Tables II and III. Transcribed by
//! hand; docs/simulation.md says how far to trust the transcription.

/// ToN Table II, per fraction of failed nodes: (fraction, mean path length, mean timeouts).
pub const TON_TABLE_II: [(f64, f64, f64); 6] = [
    (0.0, 3.84, 0.00),
    (0.1, 4.03, 0.60),
    (0.2, 4.22, 1.17),
    (0.3, 4.44, 2.02),
    (0.4, 4.69, 3.23),
    (0.5, 5.09, 5.10),
];

/// ToN Table III, per join/failure rate: (rate, mean path length, mean timeouts, failed
/// lookups per 10,000).
pub const TON_TABLE_III: [(f64, f64, f64, f64); 8] = [
    (0.05, 3.90, 0.05, 0.0),
    (0.10, 3.83, 0.11, 0.0),
    (0.15, 3.84, 0.16, 2.0),
    (0.20, 3.81, 0.23, 5.0),
    (0.25, 3.83, 0.30, 6.0),
    (0.30, 3.91, 0.34, 8.0),
    (0.35, 3.94, 0.42, 16.0),
    (0.40, 4.06, 0.46, 15.0),
];
