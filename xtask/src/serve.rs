//! A static file server for dist/, used by `serve` and, in-process, by the browser tests.

use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};

use anyhow::{Context, Result, anyhow};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// Enough that a 47 MB data download (or a slow client) never holds up the page's other requests.
const WORKERS: usize = 8;

pub struct ServerHandle {
    server: Arc<Server>,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address; with port 0 this carries the port the OS picked.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until the process is killed.
    pub fn wait(mut self) {
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Each unblock wakes exactly one worker blocked in recv().
        for _ in &self.workers {
            self.server.unblock();
        }
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.join();
        }
    }
}

/// Serves the files under `dir` at `addr` (port 0 picks a free port) until the handle is dropped.
pub fn serve_dir(dir: &Path, addr: SocketAddr) -> Result<ServerHandle> {
    let root = dir.canonicalize().with_context(|| {
        format!(
            "cannot serve {}: it does not exist (run `cargo xtask build`)",
            dir.display()
        )
    })?;
    let server = Server::http(addr).map_err(|err| {
        let in_use = err
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::AddrInUse);
        if in_use {
            anyhow!(
                "port {} on {} is already in use (another server still running?): pick another with --port",
                addr.port(),
                addr.ip()
            )
        } else {
            anyhow!("cannot listen on {addr}: {err}")
        }
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .context("the server is not listening on an IP address")?;
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    let root = Arc::new(root);
    let workers = (0..WORKERS)
        .map(|_| {
            let (server, stopping, root) = (server.clone(), stopping.clone(), root.clone());
            thread::spawn(move || {
                loop {
                    match server.recv() {
                        Ok(request) => handle(&root, request),
                        Err(_) if stopping.load(Ordering::SeqCst) => break,
                        Err(err) => step!("server: {err}"),
                    }
                }
            })
        })
        .collect();
    Ok(ServerHandle {
        server,
        addr,
        stopping,
        workers,
    })
}

fn handle(root: &Path, request: Request) {
    let method = request.method().clone();
    let url = request.url().to_owned();
    let result = match method {
        Method::Get | Method::Head => match resolve(root, &url) {
            Ok(path) => match file_response(&path) {
                Ok(response) => request.respond(response),
                Err(err) => {
                    step!("server: {}: {err}", path.display());
                    request.respond(status_response(500, "cannot read file"))
                }
            },
            Err(code) => {
                step!("server: {code} {method} {url}");
                request.respond(status_response(code, reason(code)))
            }
        },
        _ => request
            .respond(status_response(405, reason(405)).with_header(header("Allow", "GET, HEAD"))),
    };
    // A client that hung up mid-download is not the server's problem.
    if let Err(err) = result
        && !matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        )
    {
        step!("server: {method} {url}: {err}");
    }
}

/// Maps a request target to a file under `root`, or to the HTTP status to answer with.
fn resolve(root: &Path, url: &str) -> Result<PathBuf, u16> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path).ok_or(400u16)?;
    if !decoded.starts_with('/') {
        return Err(400);
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            // Checked after decoding, so `%2e%2e` is caught as well.
            ".." => return Err(403),
            s if s.contains(['\\', '\0']) => return Err(400),
            s => relative.push(s),
        }
    }
    let mut full = root.join(relative);
    if full.is_dir() {
        full.push("index.html");
    }
    let full = full.canonicalize().map_err(|_| 404u16)?;
    // A symlink inside dist/ must not hand out files from elsewhere.
    if !full.starts_with(root) {
        return Err(403);
    }
    if !full.is_file() {
        return Err(404);
    }
    Ok(full)
}

fn file_response(path: &Path) -> io::Result<Response<File>> {
    let file = File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
    let headers = vec![
        header("Content-Type", content_type(path)),
        header("Cache-Control", "no-cache"),
        // An embed in <iframe sandbox="allow-scripts"> has an opaque origin, so even its own
        // module scripts, wasm and data arrive as cross-origin (CORS) requests. Static hosts
        // such as GitHub Pages send the same header.
        header("Access-Control-Allow-Origin", "*"),
    ];
    // tiny_http switches to chunked encoding above 32 KiB, which drops Content-Length; the
    // page needs it to show download progress for the data sets.
    Ok(
        Response::new(StatusCode(200), headers, file, Some(len), None)
            .with_chunked_threshold(usize::MAX),
    )
}

fn status_response(code: u16, message: &str) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_string(format!("{code} {message}\n"))
        .with_status_code(code)
        .with_header(header("Content-Type", "text/plain; charset=utf-8"))
        .with_header(header("Cache-Control", "no-cache"))
}

fn reason(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    }
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|ext| ext.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        // Browsers refuse WebAssembly.instantiateStreaming for any other type.
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("ico") => "image/x-icon",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        // Deliberately no `Content-Encoding: gzip`: the page inflates the IDX files itself (in
        // wasm) and the browser must hand it the compressed bytes untouched.
        _ => "application/octet-stream",
    }
}

fn header(name: &str, value: &str) -> Header {
    // Both are ASCII literals from this file, for which from_bytes cannot fail.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

/// `%XX` escapes to bytes; None for a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpStream};

    struct Reply {
        status: u16,
        head: String,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<String> {
            self.head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        }
    }

    fn request(addr: SocketAddr, method: &str, target: &str) -> Reply {
        let mut stream = TcpStream::connect(addr).expect("connect");
        write!(
            stream,
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        Reply {
            status,
            head,
            body: raw[split + 4..].to_vec(),
        }
    }

    #[test]
    fn serves_files_with_lengths_and_refuses_escapes() {
        let base = std::env::temp_dir().join(format!("xtask-serve-test-{}", std::process::id()));
        let dist = base.join("dist");
        std::fs::create_dir_all(dist.join("data")).expect("mkdir");
        std::fs::write(base.join("secret.txt"), "outside").expect("write");
        std::fs::write(dist.join("index.html"), "<h1>hi</h1>").expect("write");
        let big = vec![7u8; 100_000];
        std::fs::write(dist.join("data").join("x.gz"), &big).expect("write");

        let server = serve_dir(&dist, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("serve");
        let addr = server.addr();
        assert_ne!(addr.port(), 0);

        let index = request(addr, "GET", "/");
        assert_eq!(index.status, 200);
        assert_eq!(index.body, b"<h1>hi</h1>");
        assert_eq!(
            index.header("content-type").as_deref(),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(index.header("cache-control").as_deref(), Some("no-cache"));
        assert_eq!(
            index.header("access-control-allow-origin").as_deref(),
            Some("*")
        );

        let gz = request(addr, "GET", "/data/x.gz?v=1");
        assert_eq!(gz.status, 200);
        assert_eq!(gz.header("content-length").as_deref(), Some("100000"));
        assert_eq!(gz.header("content-encoding"), None);
        assert_eq!(gz.header("transfer-encoding"), None);
        assert_eq!(gz.body, big);

        let head = request(addr, "HEAD", "/data/x.gz");
        assert_eq!(head.header("content-length").as_deref(), Some("100000"));
        assert!(head.body.is_empty());

        for escape in ["/../secret.txt", "/data/%2e%2e/%2E%2E/secret.txt"] {
            assert_eq!(request(addr, "GET", escape).status, 403, "{escape}");
        }
        assert_eq!(request(addr, "GET", "/nope.js").status, 404);
        assert_eq!(request(addr, "POST", "/").status, 405);

        drop(server);
        // tiny_http closes its listener from its own accept thread, a moment after the drop.
        let closed = (0..40).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            TcpStream::connect(addr).is_err()
        });
        assert!(
            closed,
            "the server still accepts connections 2 s after it was dropped"
        );
        std::fs::remove_dir_all(&base).expect("cleanup");
    }

    #[test]
    fn port_in_use_says_to_pick_another() {
        let dir = std::env::temp_dir();
        let first = serve_dir(&dir, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("serve");
        let err = serve_dir(&dir, first.addr())
            .err()
            .expect("second bind fails");
        assert!(format!("{err}").contains("--port"), "{err}");
    }
}
