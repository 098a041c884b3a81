//! The HTTP server in the test's own runtime on 127.0.0.1:0, stopped when the guard drops.
#![allow(dead_code)]

use lightbox_core::jobs::runner::{LocalRunner, MoveListener};
use lightbox_core::jobs::{Engine, EngineConfig};
use lightbox_core::nodes::Nodes;
use lightbox_core::store::Store;
use std::path::Path;
use std::sync::Arc;

pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    engine: Option<Arc<Engine>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// The server with a job engine over the store in `data`.
    pub fn with_engine(data: &Path, credentials: Option<lightbox_server::Credentials>) -> Server {
        let store = Arc::new(Store::open(data).unwrap());
        let runner = LocalRunner::new(
            store.clone(),
            Nodes::new(data),
            MoveListener::Temporary("127.0.0.1:0".into()),
        );
        let engine =
            Arc::new(Engine::start(data, Arc::new(runner), EngineConfig::default()).unwrap());
        Server::start(store, Some(engine), credentials)
    }

    /// Serves `store` (with `engine` for the jobs API, when given), requiring `credentials`.
    pub fn start(
        store: Arc<Store>,
        engine: Option<Arc<Engine>>,
        credentials: Option<lightbox_server::Credentials>,
    ) -> Server {
        Server::start_limited(
            store,
            engine,
            credentials,
            lightbox_server::HttpLimits::default(),
        )
    }

    /// As [`Server::start`], every connection held to `limits`.
    pub fn start_limited(
        store: Arc<Store>,
        engine: Option<Arc<Engine>>,
        credentials: Option<lightbox_server::Credentials>,
        limits: lightbox_server::HttpLimits,
    ) -> Server {
        let runtime = lightbox_server::runtime().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (stop_streams, stopping) = tokio::sync::watch::channel(false);
        let router = lightbox_server::router(lightbox_server::ServerConfig {
            nodes: Nodes::new(store.root()),
            store,
            engine: engine.clone(),
            credentials,
            address: listener.local_addr().unwrap(),
            host_names: Vec::new(),
            https: false,
            cors_origins: Default::default(),
            listener: None,
            stopping,
        })
        .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(lightbox_server::serve(
                    listener,
                    router,
                    limits,
                    None,
                    async move {
                        let _ = stopped.await;
                        let _ = stop_streams.send(true);
                    },
                ))
                .unwrap()
        });
        Server {
            origin,
            engine,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(engine) = &self.engine {
            engine.shutdown();
        }
    }
}
