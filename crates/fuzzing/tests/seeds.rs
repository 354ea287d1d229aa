//! Replays every committed seed (`fuzz/seeds/<target>/`) through its fuzz target's body, on
//! stable, then a brief run of each target on seeds mutated by a seeded generator: CI's quick
//! check that the targets hold on known inputs and their near neighbours (docs/reliability.md,
//! "Fuzzing"); `scripts/fuzz.sh` does the timed, coverage-guided runs.

use std::path::{Path, PathBuf};

use dendrite_fuzzing::TARGETS;

fn seeds_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

/// The committed seeds of `target`, in file-name order.
fn seeds_of(target: &str) -> Vec<Vec<u8>> {
    let dir = seeds_root().join(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no seeds for {target} at {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        })
        .collect()
}

#[test]
fn every_seed_passes_its_target() {
    for target in TARGETS {
        let seeds = seeds_of(target.name);
        for input in &seeds {
            (target.body)(input);
        }
        assert!(
            seeds.len() >= 3,
            "{} has {} seeds; the corpus needs a handful",
            target.name,
            seeds.len()
        );
    }
}

/// Mutated inputs per target: about two seconds for all seven in a debug build.
const MUTATIONS: usize = 20_000;

/// Each target on [`MUTATIONS`] inputs made from its seeds by one to four random edits (a bit
/// flipped, a byte set, inserted or removed, a run cut out or repeated, the tail of another
/// seed spliced on), from a fixed seed so a failure replays: no coverage guidance (that is
/// `scripts/fuzz.sh`), but every target runs on inputs nobody wrote in every `cargo test`.
#[test]
fn mutated_seeds_pass_every_target() {
    let mut rng = SplitMix(0x00d3_7d71_7e5e_ed00);
    for target in TARGETS {
        let seeds = seeds_of(target.name);
        for round in 0..MUTATIONS {
            let mut input = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                mutate(&mut input, &seeds, &mut rng);
            }
            let outcome = std::panic::catch_unwind(|| (target.body)(&input));
            assert!(
                outcome.is_ok(),
                "{} broke on mutated input {round}: {input:?}",
                target.name
            );
        }
    }
}

/// One random edit of `input`.
fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut SplitMix) {
    let len = input.len();
    match rng.below(7) {
        0 if len > 0 => {
            let at = rng.below(len);
            input[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            input[at] = rng.next() as u8;
        }
        2 => {
            let at = rng.below(len + 1);
            input.insert(at, rng.next() as u8);
        }
        3 if len > 0 => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(8)).min(len);
            input.drain(from..to);
        }
        4 if len > 0 => {
            let from = rng.below(len);
            let to = (from + 1 + rng.below(16)).min(len);
            let run = input[from..to].to_vec();
            input.splice(to..to, run);
        }
        5 => {
            let other = &seeds[rng.below(seeds.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        _ => input.truncate(rng.below(len + 1)),
    }
}

/// SplitMix64: a tiny seeded generator (no dependency for one test).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
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
