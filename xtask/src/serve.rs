//! A static file server for dist/, used by `serve` and, in-process, by the browser tests.
//!
//! tower-http's `ServeDir` does the file serving (Content-Length, ranges, `If-Modified-Since`,
//! MIME types, refusing `..`); axum runs the accept loop on a small tokio runtime owned by the
//! handle, so callers stay synchronous.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::runtime::Runtime;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub struct ServerHandle {
    addr: SocketAddr,
    /// Dropping the runtime stops the accept loop and closes every open connection.
    runtime: Option<Runtime>,
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
        if let Some(runtime) = self.runtime.take() {
            runtime.block_on(std::future::pending::<()>());
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // A browser may still hold keep-alive connections; do not wait for them.
            runtime.shutdown_timeout(Duration::from_millis(200));
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
    // Bound here, synchronously, so a busy port is reported before anything else starts.
    let listener = TcpListener::bind(addr).map_err(|err| {
        if err.kind() == io::ErrorKind::AddrInUse {
            anyhow!(
                "port {} on {} is already in use (another server still running?): pick another with --port",
                addr.port(),
                addr.ip()
            )
        } else {
            anyhow!("cannot listen on {addr}: {err}")
        }
    })?;
    listener
        .set_nonblocking(true)
        .context("configuring the listening socket")?;
    let addr = listener
        .local_addr()
        .context("reading the listening address")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("xtask-serve")
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener).context("registering the listening socket")?
    };
    let app = router(&root);
    runtime.spawn(async move {
        if let Err(err) = axum::serve(listener, app).await {
            step!("server: {err}");
        }
    });
    Ok(ServerHandle {
        addr,
        runtime: Some(runtime),
    })
}

fn router(root: &Path) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(root))
        .layer(middleware::from_fn(log_failures))
        .layer(middleware::from_fn(isolation_headers))
        // Revalidate every time, so a rebuilt dist/ is never shadowed by a stale copy.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        // An embed in <iframe sandbox="allow-scripts"> has an opaque origin, so even its own
        // module scripts, wasm and data arrive as cross-origin (CORS) requests. Static hosts
        // such as GitHub Pages send the same header.
        .layer(SetResponseHeaderLayer::overriding(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        ))
}

/// The query flag that serves a page without the isolation headers, as a static host that cannot
/// set headers would (`/?coi=0`): the page then runs its single-threaded build.
pub const NO_ISOLATION_QUERY: &str = "coi=0";

/// Cross-origin isolation, which the threaded wasm build needs (SharedArrayBuffer): documents and
/// scripts (the page, its workers, and the thread pool's workers, which must match their owner's
/// embedder policy) get `Cross-Origin-Opener-Policy: same-origin` and
/// `Cross-Origin-Embedder-Policy: require-corp`, and every response gets
/// `Cross-Origin-Resource-Policy: cross-origin`, so an isolated page (ours or another site's
/// embedding a view) may load it, and a sandboxed embed, whose origin is opaque, still loads
/// its own files. A request with `?coi=0` gets only the last.
async fn isolation_headers(request: Request, next: Next) -> Response {
    let plain = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|pair| pair == NO_ISOLATION_QUERY));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    let isolating = headers
        .get(header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html") || t.starts_with("text/javascript"));
    if isolating && !plain {
        headers.insert(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            HeaderName::from_static("cross-origin-embedder-policy"),
            HeaderValue::from_static("require-corp"),
        );
    }
    response
}

/// Says which requests failed, so a missing file shows up in the terminal, not only in DevTools.
async fn log_failures(request: Request, next: Next) -> Response {
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        step!("server: {} {method} {uri}", status.as_u16());
    }
    response
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
        std::fs::write(dist.join("app.js"), "export {};").expect("write");
        std::fs::write(dist.join("app.wasm"), b"\0asm").expect("write");
        let big = vec![7u8; 100_000];
        std::fs::write(dist.join("data").join("x.gz"), &big).expect("write");

        let server = serve_dir(&dist, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("serve");
        let addr = server.addr();
        assert_ne!(addr.port(), 0);

        // No charset parameter: every page declares <meta charset="utf-8"> itself.
        let index = request(addr, "GET", "/");
        assert_eq!(index.status, 200);
        assert_eq!(index.body, b"<h1>hi</h1>");
        assert_eq!(index.header("content-type").as_deref(), Some("text/html"));
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

        let js = request(addr, "GET", "/app.js");
        assert_eq!(
            js.header("content-type").as_deref(),
            Some("text/javascript")
        );
        // Browsers refuse WebAssembly.instantiateStreaming for any other type.
        let wasm = request(addr, "GET", "/app.wasm");
        assert_eq!(
            wasm.header("content-type").as_deref(),
            Some("application/wasm")
        );

        for escape in ["/../secret.txt", "/data/%2e%2e/%2E%2E/secret.txt"] {
            let reply = request(addr, "GET", escape);
            assert!(
                reply.status == 400 || reply.status == 403 || reply.status == 404,
                "{escape}: {}",
                reply.status
            );
            assert!(!String::from_utf8_lossy(&reply.body).contains("outside"));
        }
        assert_eq!(request(addr, "GET", "/nope.js").status, 404);
        assert_eq!(request(addr, "POST", "/").status, 405);

        drop(server);
        assert!(
            TcpStream::connect(addr).is_err(),
            "the server still accepts connections after it was dropped"
        );
        std::fs::remove_dir_all(&base).expect("cleanup");
    }

    /// A browser keeps six connections open per page, and tests open page after page: a new
    /// connection must be answered however many idle keep-alive ones are held. (tiny_http, used
    /// before, could leave one unread forever, which stalled a page's module imports.)
    #[test]
    fn answers_new_connections_while_others_are_kept_alive() {
        let dir = std::env::temp_dir().join(format!("xtask-serve-alive-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("a.js"), "export const a = 1;\n").expect("write");
        let server = serve_dir(&dir, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("serve");
        let addr = server.addr();
        // Connected all at once, the way a page's burst of module imports arrives.
        let mut held: Vec<TcpStream> = (0..24)
            .map(|_| TcpStream::connect(addr).expect("connect"))
            .collect();
        for (i, stream) in held.iter_mut().enumerate() {
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .expect("timeout");
            write!(stream, "GET /a.js HTTP/1.1\r\nHost: {addr}\r\n\r\n").expect("send");
            // Read exactly one response; the connection stays open (keep-alive).
            let mut raw = Vec::new();
            let mut buf = [0u8; 1024];
            while !raw.ends_with(b"export const a = 1;\n") {
                let n = stream
                    .read(&mut buf)
                    .unwrap_or_else(|err| panic!("connection {i} got no answer: {err}"));
                assert_ne!(n, 0, "connection {i} closed without an answer");
                raw.extend_from_slice(&buf[..n]);
            }
            assert!(raw.starts_with(b"HTTP/1.1 200"), "connection {i}");
        }
        drop(server);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn documents_and_scripts_are_isolated_and_everything_may_be_embedded() {
        let dir = std::env::temp_dir().join(format!("xtask-serve-coi-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("www")).expect("mkdir");
        std::fs::write(dir.join("index.html"), "<h1>hi</h1>").expect("write");
        std::fs::write(dir.join("www").join("worker.js"), "export {};").expect("write");
        std::fs::write(dir.join("www").join("embed.html"), "<p>embed</p>").expect("write");
        std::fs::write(dir.join("app.wasm"), b"\0asm").expect("write");
        std::fs::write(dir.join("x.gz"), b"gz").expect("write");
        let server = serve_dir(&dir, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("serve");
        let addr = server.addr();
        let isolation = |reply: &Reply| {
            (
                reply.header("cross-origin-opener-policy"),
                reply.header("cross-origin-embedder-policy"),
                reply.header("cross-origin-resource-policy"),
            )
        };
        let isolated = (
            Some("same-origin".to_owned()),
            Some("require-corp".to_owned()),
            Some("cross-origin".to_owned()),
        );
        let embeddable = (None, None, Some("cross-origin".to_owned()));
        for target in ["/", "/index.html", "/www/worker.js", "/www/embed.html?x=1"] {
            let reply = request(addr, "GET", target);
            assert_eq!(reply.status, 200, "{target}");
            assert_eq!(isolation(&reply), isolated, "{target}");
            // CORS stays: a sandboxed embed's own requests are cross-origin.
            assert_eq!(
                reply.header("access-control-allow-origin").as_deref(),
                Some("*")
            );
        }
        for target in [
            "/app.wasm",
            "/x.gz",
            "/nope.js",
            "/?coi=0",
            "/index.html?a=b&coi=0",
        ] {
            assert_eq!(
                isolation(&request(addr, "GET", target)),
                embeddable,
                "{target}"
            );
        }
        assert_eq!(isolation(&request(addr, "HEAD", "/")), isolated);
        drop(server);
        std::fs::remove_dir_all(&dir).expect("cleanup");
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
