//! The HTTP server: a hyper accept loop (so a handler can make the server drop the connection
//! without answering, and shutdown can end hung connections), request logging and latency,
//! and the axum router.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::faults::DropConnection;
use crate::{LoggedRequest, Shared};

pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let router = router(shared.clone());
    let mut conns = JoinSet::new();
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let shared = shared.clone();
        conns.spawn(async move {
            let drop_now = Arc::new(Notify::new());
            let notify = drop_now.clone();
            let svc = hyper::service::service_fn(move |req| {
                handle(req, shared.clone(), router.clone(), notify.clone())
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                // Dropping the connection future closes the socket with no response written.
                _ = drop_now.notified() => {}
            }
        });
    }
    conns.shutdown().await;
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    mut router: Router,
    drop_now: Arc<Notify>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Default::default(),
    };
    let path = parts.uri.path().to_string();
    if !path.starts_with("/_sandbox") {
        let latency = {
            let mut inner = shared.lock();
            inner.requests.push(LoggedRequest {
                method: parts.method.to_string(),
                path,
                query: parts.uri.query().unwrap_or("").to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
                received_at: chrono::Utc::now(),
            });
            inner.scenario.latency
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
    let req = Request::from_parts(parts, Body::from(bytes));
    let resp = match router.call(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if resp.extensions().get::<DropConnection>().is_some() {
        drop_now.notify_one();
        return std::future::pending().await;
    }
    Ok(resp)
}

fn router(shared: Arc<Shared>) -> Router {
    crate::alpaca::routes()
        .merge(crate::discord::routes())
        .merge(crate::control::routes())
        .fallback(crate::alpaca::not_found)
        .method_not_allowed_fallback(crate::alpaca::method_not_allowed)
        .with_state(shared)
}
