//! A test server started in the background by a shell guard that stops it when
//! the pipe from the test process closes (the test binary exits, however it
//! exits), on a port chosen free. Shared by `s3.rs` and `azurite.rs`.
//!
//! A port chosen free is not reserved: another server a parallel test starts
//! can take it first (ours then fails to bind, and the port answers as that
//! other server). So a server counts as up only when the probe recognises it,
//! and a port someone else answers on is given up for another.

use std::net::TcpListener;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Holds the guard's pipe: dropping it (or the process ending) stops the server.
pub type Guard = Mutex<(Child, ChildStdin)>;

/// What a probe of the port found.
pub enum Probe {
    /// Our server answers.
    Up,
    /// Something else answers: try another port.
    Other,
    /// Nothing yet.
    NotYet,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run `command(port)` (a shell command line that stays in the foreground) under
/// the guard, and wait up to a minute for `probe(port)` to find it up; five
/// ports are tried. `what` names the server in the panic.
pub fn start(
    what: &str,
    command: impl Fn(u16) -> String,
    probe: impl Fn(u16) -> Probe,
) -> (u16, Guard) {
    for _ in 0..5 {
        let port = free_port();
        let script = format!(
            "{} >/dev/null 2>&1 & pid=$!; read _; kill $pid; \
             while kill -0 $pid 2>/dev/null; do sleep 0.1; done",
            command(port)
        );
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        let stdin = child.stdin.take().unwrap();
        let guard = Mutex::new((child, stdin));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match probe(port) {
                Probe::Up => return (port, guard),
                Probe::Other => break,
                Probe::NotYet => {}
            }
            assert!(Instant::now() < deadline, "{what} did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("{what}: every port tried was taken by another server");
}
