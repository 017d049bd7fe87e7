//! `tracer serve`: trace a target until stopped, and answer each Prometheus scrape of
//! `/metrics` with the report so far (read from the kernel's maps then), as OpenMetrics.
//!
//! The HTTP side is the least a scraper needs (GET, one response, close), on the tokio
//! runtime the tracer already runs: a scrape is one request a few seconds apart, and a
//! framework would add far more than it serves.
use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{mpsc, oneshot},
};

use crate::{
    collect::Live,
    render::metrics,
    report::Report,
    signals::Signals,
    trace::{self, Job, Traced},
};

/// Where scrapes ask for a report.
type Asks = mpsc::Sender<oneshot::Sender<Report>>;

/// A scrape that does not send its request in this long is dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds `listen` (before anything is attached: a port in use fails at once), then traces
/// `job` until it stops, serving its metrics meanwhile.
pub async fn run(job: Job, listen: SocketAddr, signals: &Signals) -> Result<Traced> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: pick another address with --listen"))?;
    // A service manager's reload (SIGHUP) has nothing to reload here, and must not end the
    // trace and its counts: ignored (serve starts no command that could inherit it).
    // SAFETY: setting a signal's disposition to SIG_IGN.
    unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    let (asks, requests) = mpsc::channel(16);
    let server = tokio::spawn(accept(listener, asks));
    eprintln!("serving metrics on http://{listen}/metrics");
    let live = Live { every: Duration::from_secs(3600), show: None, requests: Some(requests), status: true };
    let traced = trace::trace(job, Some(live), signals).await;
    server.abort();
    traced
}

async fn accept(listener: TcpListener, asks: Asks) {
    loop {
        let Ok((socket, _)) = listener.accept().await else { continue };
        let asks = asks.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(socket, asks)).await;
        });
    }
}

/// One request, one response: the metrics for `GET /metrics`, 404 for anything else.
async fn answer(mut socket: TcpStream, asks: Asks) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let (status, kind, body) = if method == "GET" && path.split('?').next() == Some("/metrics") {
        let (tx, rx) = oneshot::channel();
        match asks.send(tx).await.ok().map(|()| rx) {
            Some(rx) => match rx.await {
                Ok(report) => ("200 OK", metrics::CONTENT_TYPE, metrics::render(&report)),
                Err(_) => ("503 Service Unavailable", "text/plain", "the trace has ended\n".to_owned()),
            },
            None => ("503 Service Unavailable", "text/plain", "the trace has ended\n".to_owned()),
        }
    } else {
        ("404 Not Found", "text/plain", "tracer serves /metrics only\n".to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}
