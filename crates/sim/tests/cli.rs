//! The command line: prints its seed, writes a CSV and an SVG per experiment.

use std::process::Command;

#[test]
fn a_run_prints_its_seed_and_writes_csv_and_svg() {
    let dir = std::env::temp_dir().join(format!("dendrite-sim-cli-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_dendrite-sim"))
        .args(["load-balance", "--small", "--seed", "42", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("seed 42"), "{stdout}");
    let csv = std::fs::read_to_string(dir.join("load-balance.csv")).unwrap();
    assert!(csv.starts_with("nodes,keys,mean,p1,p99"));
    let svg = std::fs::read_to_string(dir.join("load-balance.svg")).unwrap();
    assert!(svg.starts_with("<svg"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_experiment_is_refused_with_the_list() {
    let out = Command::new(env!("CARGO_BIN_EXE_dendrite-sim"))
        .arg("nonsense")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("path-length"));
}

#[test]
fn a_scale_too_small_for_the_experiments_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_dendrite-sim"))
        .args(["all", "--scale", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scale"));
}
