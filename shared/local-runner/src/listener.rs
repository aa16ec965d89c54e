//! The runner's TCP listener. hyper answers a few malformed requests by itself, before any
//! route runs and with an empty body: a request line over 64 KiB (414), headers over its
//! buffer (431), a request line or header that does not parse (400). Each connection is
//! wrapped so that those answers carry the same `{"error": {"code", "message"}}` body as
//! every other answer; everything else passes through untouched. The peer's address is added
//! to every request as `ConnectInfo<SocketAddr>` (the intake's rate limit reads it).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::serve::{IncomingStream, Listener};
use nhip_core::http::{ErrorBody, ErrorDetail};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::Layer as _;

/// A TCP listener whose connections answer hyper's own parse errors with the JSON error body.
pub struct JsonErrorListener(pub TcpListener);

impl Listener for JsonErrorListener {
    type Io = JsonErrors<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        (JsonErrors::new(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, each request carrying its
/// connection's peer address.
pub async fn serve(
    listener: JsonErrorListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let make = tower::service_fn(move |incoming: IncomingStream<'_, JsonErrorListener>| {
        let peer = ConnectInfo(*incoming.remote_addr());
        std::future::ready(Ok::<_, Infallible>(
            axum::Extension(peer).layer(app.clone()),
        ))
    });
    axum::serve(listener, make)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A connection whose bodiless automatic error answers are given the JSON error body.
pub struct JsonErrors<IO> {
    inner: IO,
    /// A rewritten answer still to be written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<IO> JsonErrors<IO> {
    fn new(inner: IO) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<IO: AsyncWrite + Unpin> JsonErrors<IO> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for JsonErrors<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for JsonErrors<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_pending(cx))?;
        if let Some(answer) = with_json_body(buf) {
            this.pending = answer;
            // The bytes are taken; what the socket does not accept now goes on flush.
            if let Poll::Ready(Err(error)) = this.poll_pending(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// hyper's automatic answer to a request it could not parse (a status line of 400, 414 or
/// 431, `content-length: 0` and nothing after the head), rewritten with the JSON error body;
/// `None` for anything else, including every answer a route produced (they all have a body).
fn with_json_body(written: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(written).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let (status_line, headers) = head.split_once("\r\n")?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?;
    let (code, message) = match status.get(..3)? {
        "400" => (
            "bad_request",
            "The request line or a header could not be parsed.",
        ),
        "414" => (
            "uri_too_long",
            "The URI is longer than the server accepts (64 KiB).",
        ),
        "431" => (
            "headers_too_large",
            "The request's headers are larger than the server accepts.",
        ),
        _ => return None,
    };
    let mut kept = Vec::new();
    let mut bodiless = false;
    for line in headers.split("\r\n") {
        if line.eq_ignore_ascii_case("content-length: 0") {
            bodiless = true;
        } else {
            kept.push(line);
        }
    }
    if !bodiless {
        return None;
    }
    let body = serde_json::to_string(&ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
            fields: Default::default(),
        },
    })
    .ok()?;
    let mut answer = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for line in kept {
        answer.push_str(line);
        answer.push_str("\r\n");
    }
    answer.push_str("\r\n");
    answer.push_str(&body);
    Some(answer.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::with_json_body;

    #[test]
    fn only_bodiless_parse_error_answers_are_rewritten() {
        let auto = b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: Mon, 23 Nov 2026 02:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(with_json_body(auto).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert!(head.contains("date: Mon"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "uri_too_long");

        let routed = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n";
        assert!(with_json_body(routed).is_none());
        assert!(with_json_body(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(
            with_json_body(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n{}").is_none()
        );
    }
}
