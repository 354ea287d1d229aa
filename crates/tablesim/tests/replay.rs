//! A seed replays event for event: the same seed twice renders the same trace, byte for
//! byte (every fault, every operation with its virtual times and answer, the count of
//! messages sent), and another seed a different one.

use dendrite_tablesim::run::run_seed;
use dendrite_tablesim::schedule::SimConfig;

#[test]
fn a_seed_replays_byte_for_byte_and_another_seed_differs() -> Result<(), Box<dyn std::error::Error>>
{
    let config = SimConfig::default();
    let first = run_seed(7, &config)?;
    let again = run_seed(7, &config)?;
    let other = run_seed(8, &config)?;
    let (a, b, c) = (first.trace(), again.trace(), other.trace());
    assert!(
        first.history.operations.len() > 100 && first.rounds.len() == config.rounds,
        "the run did too little to compare: {}",
        first.summary()
    );
    if a != b {
        let line = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "seed 7 replayed differently from line {line}:\n{}\nvs\n{}",
            a.lines().nth(line).unwrap_or(""),
            b.lines().nth(line).unwrap_or("")
        );
    }
    assert_ne!(a, c, "seeds 7 and 8 ran the same");
    Ok(())
}
