//! The listener behind `idp serve` and `idp emulator`: plain HTTP or HTTPS (rustls) with
//! TCP_NODELAY, until a stop signal (SIGTERM or Ctrl-C) drains it gracefully.

use axum_server::Handle;
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

/// How long open connections get to finish after a stop signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Why serving did not start (or stopped with an error).
#[derive(Debug, Error)]
pub enum ListenError {
    #[error("cannot use the TLS certificate and key")]
    Tls(#[source] std::io::Error),
    #[error("cannot serve on {addr}")]
    Serve {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl idp_core::diagnostic::Diagnostic for ListenError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            ListenError::Tls(_) => {
                "give --tls-cert a PEM certificate chain and --tls-key its PEM private key"
            }
            ListenError::Serve { .. } => {
                "choose another --listen address (a free 127.0.0.1 port), or stop what listens there"
            }
        }
        .into())
    }

    fn is_usage(&self) -> bool {
        true
    }
}

/// TLS for a listener: the certificate chain and its key, PEM.
#[derive(Clone)]
pub struct Pem {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pem([redacted])")
    }
}

/// Serves `app` on `listen` (HTTPS with `tls`, else plain HTTP) until `server` is told to
/// stop. Handlers may read the peer's address (`ConnectInfo<SocketAddr>`). Sockets get TCP_NODELAY: a TLS handshake or a response written in several pieces
/// must not wait for the peer's delayed ACK (40 ms on Linux).
pub async fn serve(
    listen: SocketAddr,
    tls: Option<Pem>,
    server: Handle<SocketAddr>,
    app: axum::Router,
) -> Result<(), ListenError> {
    let serving = |source| ListenError::Serve {
        addr: listen,
        source,
    };
    match tls {
        None => axum_server::bind(listen)
            .acceptor(NoDelayAcceptor::new())
            .handle(server)
            .serve(app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .map_err(serving),
        Some(Pem { cert, key }) => {
            crate::install_crypto_provider();
            let config = RustlsConfig::from_pem(cert, key)
                .await
                .map_err(ListenError::Tls)?;
            axum_server::bind(listen)
                .acceptor(RustlsAcceptor::new(config).acceptor(NoDelayAcceptor::new()))
                .handle(server)
                .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .map_err(serving)
        }
    }
}

/// [`serve`] until SIGTERM or Ctrl-C ([`stop_on_signal`]), telling `announce` the bound
/// address once the listener is up: what `idp serve`, `idp emulator` and `idp
/// serve-assertions` each run.
pub async fn serve_until_stopped(
    listen: SocketAddr,
    tls: Option<Pem>,
    app: axum::Router,
    announce: impl FnOnce(SocketAddr) + Send + 'static,
) -> Result<(), ListenError> {
    let server = Handle::<SocketAddr>::new();
    tokio::spawn(stop_on_signal(server.clone()));
    let listening = server.clone();
    tokio::spawn(async move {
        if let Some(addr) = listening.listening().await {
            announce(addr);
        }
    });
    serve(listen, tls, server, app).await
}

/// Waits for SIGTERM or Ctrl-C, says so on stderr, then stops `server` gracefully.
pub async fn stop_on_signal(server: Handle<SocketAddr>) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    // Never a panic here: with stderr gone (its reader closed) the stop must still happen.
    {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "shutting down");
    }
    server.graceful_shutdown(Some(GRACE));
}
