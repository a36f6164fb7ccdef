//! A real PostgreSQL for tests: one private server per test binary, one fresh
//! database per test.
//!
//! The server comes from Debian's `postgresql` package (binaries under
//! `/usr/lib/postgresql/<version>/bin`, not on PATH): `initdb` in a temp
//! directory, started on a free port with its unix socket in that directory,
//! as an unprivileged user when the tests run as root (PostgreSQL refuses to
//! run as root). A small shell guard holds the server: it waits on a pipe from
//! this process and, when the pipe closes (the test binary exits, however it
//! exits), stops the server and removes the directory.
//!
//! `WHARF_TEST_POSTGRES=postgres://user@host:port/db` uses that server instead
//! (the user must be allowed to `CREATE DATABASE`); nothing is started then.
//!
//! Only `std` and `psql` are used, so the top-level end-to-end tests include
//! this file too (`#[path]`).

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The server every test of this binary shares.
pub struct PgServer {
    /// URL of the maintenance database (`postgres`), for `CREATE DATABASE`.
    admin_url: String,
    bin: PathBuf,
    /// Closing this stops the private server (see the module doc).
    _guard: Option<Mutex<(Child, ChildStdin)>>,
}

static SERVER: OnceLock<PgServer> = OnceLock::new();
static TLS_SERVER: OnceLock<TlsPgServer> = OnceLock::new();

/// A private server with `ssl=on` (plain connections still allowed, so that a
/// test can tell which kind a client made): its certificate names 127.0.0.1
/// only and is signed by a test CA made with the openssl CLI.
pub struct TlsPgServer {
    pub server: PgServer,
    /// The test CA's certificate (PEM), for `sslrootcert`.
    pub ca: PathBuf,
}
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The directory of the newest installed PostgreSQL's binaries.
fn bin_dir() -> PathBuf {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian package `postgresql`; scripts/test.sh installs it)")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().expect("no /usr/lib/postgresql/*/bin/initdb").1
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program args…`, as `nobody` when we are root.
fn unprivileged(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `openssl …`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (the CLI) is needed for the TLS tests");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed P-256 CA, `NAME.pem` and `NAME.key` in `dir`; the PEM's path.
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    dir.join(pem)
}

/// A server certificate for IP 127.0.0.1 (only: a client that checks the name
/// refuses it for `localhost`) signed by the CA `ca` in `dir`: `server.pem`, `server.key`.
fn make_server_cert(dir: &Path, ca: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

fn start() -> PgServer {
    let bin = bin_dir();
    if let Ok(url) = std::env::var("WHARF_TEST_POSTGRES") {
        return PgServer {
            admin_url: url,
            bin,
            _guard: None,
        };
    }
    launch(bin, false).0
}

/// A private server; with `tls`, `ssl=on` and the test CA (its PEM returned).
fn launch(bin: PathBuf, tls: bool) -> (PgServer, Option<PathBuf>) {
    let root = is_root();
    // Kept: the guard removes it when the server stops.
    let dir = tempfile::Builder::new()
        .prefix("wharf-pg-")
        .tempdir()
        .unwrap()
        .keep();
    if root {
        let status = Command::new("chown")
            .args(["nobody:", dir.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success(), "chown {dir:?} to nobody");
    }
    let data = dir.join("data");
    let out = unprivileged(root, &bin.join("initdb"))
        .args([
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            "-U",
            "wharf",
            "-D",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "initdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The key must belong to the server's user and be private to it.
    let (ssl, ca) = if tls {
        let certs = dir.join("tls");
        std::fs::create_dir(&certs).unwrap();
        let ca = make_ca(&certs, "test-ca");
        make_server_cert(&certs, "test-ca");
        std::fs::set_permissions(
            certs.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        if root {
            let status = Command::new("chown")
                .args(["-R", "nobody:"])
                .arg(&certs)
                .status()
                .unwrap();
            assert!(status.success(), "chown {certs:?} to nobody");
        }
        let ssl = format!(
            "-c ssl=on -c ssl_cert_file='{cert}' -c ssl_key_file='{key}' ",
            cert = certs.join("server.pem").display(),
            key = certs.join("server.key").display(),
        );
        (ssl, Some(ca))
    } else {
        (String::new(), None)
    };
    let port = free_port();
    // The guard: the server in the background; when our end of its stdin
    // closes, a fast shutdown, then the directory goes.
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 {ssl}\
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
         >'{dir}/log' 2>&1 & pid=$!; read _; kill -INT $pid; \
         while kill -0 $pid 2>/dev/null; do sleep 0.1; done; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
    );
    let mut child = unprivileged(root, Path::new("/bin/sh"))
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let admin_url = format!("postgres://wharf@127.0.0.1:{port}/postgres");
    let server = PgServer {
        admin_url,
        bin,
        _guard: Some(Mutex::new((child, stdin))),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(server.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "PostgreSQL did not start: {}",
            std::fs::read_to_string(dir.join("log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, ca)
}

pub fn server() -> &'static PgServer {
    SERVER.get_or_init(start)
}

/// The TLS server every test of this binary shares (always a private one, even
/// with `WHARF_TEST_POSTGRES`).
pub fn tls_server() -> &'static TlsPgServer {
    TLS_SERVER.get_or_init(|| {
        let (server, ca) = launch(bin_dir(), true);
        TlsPgServer {
            server,
            ca: ca.unwrap(),
        }
    })
}

impl PgServer {
    /// Run SQL on the maintenance database with `psql`.
    pub fn admin_sql(&self, sql: &str) {
        let mut child = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &self.admin_url])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(sql.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run a query on the maintenance database with `psql`: its rows, one per
    /// line, columns separated by `|`.
    pub fn query(&self, sql: &str) -> String {
        self.psql_rows(&self.admin_url, sql)
    }

    /// Like [`PgServer::query`], on database `db` of this server.
    pub fn query_in(&self, db: &str, sql: &str) -> String {
        self.psql_rows(&self.url(db), sql)
    }

    fn psql_rows(&self, url: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A new, empty database on this server; its name.
    pub fn create_database(&self) -> String {
        let name = format!(
            "wharf_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.admin_sql(&format!("CREATE DATABASE {name}"));
        name
    }

    /// The URL of `db` on this server.
    pub fn url(&self, db: &str) -> String {
        let (path, query) = match self.admin_url.split_once('?') {
            Some((path, query)) => (path, format!("?{query}")),
            None => (self.admin_url.as_str(), String::new()),
        };
        let (base, _) = path
            .rsplit_once('/')
            .expect("WHARF_TEST_POSTGRES is a postgres:// URL with a database");
        format!("{base}/{db}{query}")
    }
}

/// A new, empty database on the shared server; its URL.
pub fn fresh_database() -> String {
    let server = server();
    server.url(&server.create_database())
}
