//! Replays every committed seed (`fuzz/seeds/<target>/`) through its fuzz target's body, on
//! stable: CI's quick check that the targets hold on known inputs (docs/reliability.md,
//! "Fuzzing"); `scripts/fuzz.sh` does the timed, coverage-guided runs.

use std::path::{Path, PathBuf};

use dendrite_fuzzing::TARGETS;

fn seeds_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

#[test]
fn every_seed_passes_its_target() {
    for target in TARGETS {
        let dir = seeds_root().join(target.name);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no seeds for {} at {}: {e}", target.name, dir.display()));
        let mut replayed = 0;
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path();
            let input = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            (target.body)(&input);
            replayed += 1;
        }
        assert!(
            replayed >= 3,
            "{} has {replayed} seeds; the corpus needs a handful",
            target.name
        );
    }
}

#[test]
fn every_seed_directory_has_a_target() {
    let entries = std::fs::read_dir(seeds_root()).unwrap_or_else(|e| panic!("no fuzz/seeds: {e}"));
    for entry in entries {
        let name = entry
            .unwrap_or_else(|e| panic!("cannot list fuzz/seeds: {e}"))
            .file_name();
        let name = name.to_string_lossy();
        assert!(
            TARGETS.iter().any(|t| t.name == name),
            "fuzz/seeds/{name} belongs to no target in dendrite_fuzzing::TARGETS"
        );
    }
}

/// Inputs that once broke a target, kept so they stay fixed.
#[test]
fn empty_input_passes_every_target() {
    for target in TARGETS {
        (target.body)(&[]);
    }
}
