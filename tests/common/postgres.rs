//! A PostgreSQL server of the test's own on 127.0.0.1, from Debian's
//! packages (`bash scripts/postgres.sh install`), through
//! `scripts/postgres.sh`: a fresh cluster in a temporary directory on a
//! free port, stopped and removed when dropped.

use std::path::PathBuf;
use std::process::Command;

/// A running (or deliberately stopped) test server.
pub struct Postgres {
    dir: PathBuf,
    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
}

fn script(args: &[&str]) -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/postgres.sh");
    Command::new("bash").arg(script).args(args).output().expect("run scripts/postgres.sh")
}

impl Postgres {
    /// Starts a new cluster. `None` (after printing why) when PostgreSQL is
    /// not installed and peers are not required; panics when it is
    /// required or fails to start.
    pub fn start(name: &str) -> Option<Postgres> {
        let port = super::free_port();
        let dir = std::env::temp_dir().join(format!("ebc-pg-{name}-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = script(&["start", dir.to_str().unwrap(), &port.to_string()]);
        if out.status.code() == Some(3) {
            let hint = "PostgreSQL is not installed (run `bash scripts/postgres.sh install`)";
            assert!(!super::peers_required(), "{hint}");
            eprintln!("skipping: {hint}");
            return None;
        }
        assert!(out.status.success(), "postgres.sh start: {}", String::from_utf8_lossy(&out.stderr));
        let url = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Some(Postgres { dir, url, port })
    }

    fn control(&self, command: &str) {
        let out = script(&[command, self.dir.to_str().unwrap()]);
        assert!(out.status.success(), "postgres.sh {command}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        self.control("stop");
    }

    /// Starts the stopped server again, same data, same port.
    pub fn resume(&self) {
        self.control("resume");
    }

    /// Restarts the server (fast shutdown, then start).
    pub fn restart(&self) {
        self.control("restart");
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = script(&["stop", self.dir.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
