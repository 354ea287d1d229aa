//! Test support: a Python virtual environment with packages from PyPI, made once under a
//! directory, for the tests that drive real Python peers (pyzmq as the libzmq reference in
//! `zmtp`'s interop tests, redis-py as a real client in `dendrite-node`'s).
//!
//! Nothing is installed by hand: the first test that needs the environment runs
//! `python3 -m venv` and `pip install`; later runs find it ready. A test that cannot build it
//! (no `python3 -m venv`, no PyPI) fails with a message saying so: it never passes by skipping.
//! The environment is built in a private directory and renamed into place, so concurrent test
//! processes never see half of one; the loser of a rename race uses the winner's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Serialises the makers inside one test process: the tests of one binary run on several
/// threads, share a process id (the staging directory's suffix) and would otherwise build the
/// same staging directory at once (seen in CI: `ensurepip` failing under a concurrent
/// `remove_dir_all`). Across processes, the staged rename keeps them apart.
static MAKING: Mutex<()> = Mutex::new(());

/// A virtual environment to make: where, what to install, and how to tell it works.
#[derive(Debug, Clone, Copy)]
pub struct Venv<'a> {
    /// The directory it lives in (a test's `CARGO_TARGET_TMPDIR`).
    pub work: &'a Path,
    /// Its directory name under `work`.
    pub name: &'a str,
    /// The `pip install` requirements, e.g. `["redis>=5"]`.
    pub packages: &'a [&'a str],
    /// Python code that exits 0 when the environment is usable (imports the packages, checks
    /// versions).
    pub probe: &'a str,
}

impl Venv<'_> {
    /// The environment's Python, made first if it is missing or does not pass the probe.
    ///
    /// # Panics
    /// When the environment cannot be made: this is a test's failure, with the reason.
    pub fn python(&self) -> PathBuf {
        let venv = self.work.join(self.name);
        let python = venv.join("bin").join("python");
        if self.usable(&python) {
            return python;
        }
        // A panic of another maker leaves the lock poisoned, not the directory: go on.
        let _making = MAKING
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.usable(&python) {
            return python;
        }
        let staging = self
            .work
            .join(format!("{}.staging-{}", self.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        if let Err(e) = std::fs::create_dir_all(self.work) {
            panic!("cannot create {}: {e}", self.work.display());
        }
        let created = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&staging)
            .status();
        assert!(
            matches!(created, Ok(status) if status.success()),
            "tests with Python peers need `python3 -m venv` (got {created:?}); install python3-venv"
        );
        let installed = Command::new(staging.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--timeout", "60"])
            .args(self.packages)
            .status();
        assert!(
            matches!(installed, Ok(status) if status.success()),
            "could not `pip install {}` into {} (got {installed:?}); the test needs PyPI once \
             to build the venv. This is a FAILURE, not a skip.",
            self.packages.join(" "),
            staging.display()
        );
        if std::fs::rename(&staging, &venv).is_err() {
            // Another process finished first (or a broken environment is in the way).
            if self.usable(&python) {
                let _ = std::fs::remove_dir_all(&staging);
            } else {
                let _ = std::fs::remove_dir_all(&venv);
                if let Err(e) = std::fs::rename(&staging, &venv) {
                    panic!("cannot move {} into place: {e}", staging.display());
                }
            }
        }
        assert!(
            self.usable(&python),
            "the venv at {} does not pass its probe ({})",
            venv.display(),
            self.probe
        );
        python
    }

    fn usable(&self, python: &Path) -> bool {
        Command::new(python)
            .args(["-c", self.probe])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}
