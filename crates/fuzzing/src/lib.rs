//! The bodies of Dendrite's fuzz targets (docs/reliability.md, "Fuzzing").
//!
//! Each target is a plain function of arbitrary bytes that panics only when a property that
//! must hold is broken (a decoder panicked, a round trip changed a value). Keeping them here,
//! rather than inside the cargo-fuzz crate, lets two drivers share them: `fuzz/` (its own
//! workspace, nightly, libFuzzer; `scripts/fuzz.sh`) explores new inputs, and this crate's
//! test replays the committed seeds of every target on stable, in `cargo test --workspace`.

pub mod dtable_message;
pub mod log_format;
pub mod resp_request;
pub mod ring_message;
pub mod zmtp_targets;

/// One fuzz target: the name of its cargo-fuzz binary and seed directory, and its body.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The cargo-fuzz target name, also the directory of its seeds under `fuzz/seeds/`.
    pub name: &'static str,
    /// Runs one input; panics only if a property that must hold is broken.
    pub body: fn(&[u8]),
}

/// Every fuzz target, in the order `scripts/fuzz.sh` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "frame_decode",
        body: zmtp_targets::frame_decode,
    },
    Target {
        name: "curve_server",
        body: zmtp_targets::curve_server,
    },
    Target {
        name: "z85_decode",
        body: zmtp_targets::z85_decode,
    },
    Target {
        name: "ring_message",
        body: ring_message::ring_message,
    },
    Target {
        name: "dtable_message",
        body: dtable_message::dtable_message,
    },
    Target {
        name: "resp_request",
        body: resp_request::resp_request,
    },
    Target {
        name: "log_format",
        body: log_format::log_format,
    },
];
