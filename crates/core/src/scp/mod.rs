//! This node's own DIMSE services, over the store and the index: C-STORE into the store
//! (answered once the file is in place, indexed in the background), C-FIND over the index,
//! C-GET and C-MOVE of stored instances (to known nodes only). The networking crate's
//! [`DimseServer`] runs them.

pub mod find;
mod retrieve;

use crate::import::BackgroundIndexer;
use crate::nodes::Nodes;
use crate::store::Store;
use lightbox_net::dimse::observer::AssociationObserver;
use lightbox_net::dimse::server::{DimseServer, ServerConfig, Services};
use lightbox_net::sink::{Accepted, InstanceSink, Origin, Refused};
use std::path::PathBuf;
use std::sync::Arc;

pub use retrieve::{KnownNodes, StoredInstances};

/// The storage service: received instances through the background indexer.
struct Storage {
    indexer: BackgroundIndexer,
    scratch: PathBuf,
}

impl InstanceSink for Storage {
    fn scratch_dir(&self) -> PathBuf {
        self.scratch.clone()
    }

    fn ingest(&self, file: tempfile::NamedTempFile, origin: &Origin) -> Result<Accepted, Refused> {
        self.indexer.accept(file, origin)
    }

    fn flush(&self) {
        self.indexer.flush();
    }
}

/// This node's DIMSE listener at `address`, storing into `store`; `observer` hears what each
/// association does.
pub fn listener(
    address: &str,
    store: Arc<Store>,
    config: ServerConfig,
    observer: Option<Arc<dyn AssociationObserver>>,
) -> std::io::Result<DimseServer> {
    DimseServer::bind(address, config, services(store, observer)?)
}

/// This node's services over `store`, for listeners of its own making (the plain and the TLS
/// port share one set, and so one indexer).
pub fn services(
    store: Arc<Store>,
    observer: Option<Arc<dyn AssociationObserver>>,
) -> std::io::Result<Services> {
    let storage = Storage {
        indexer: BackgroundIndexer::start(store.clone())?,
        scratch: store.tmp_dir(),
    };
    let services = Services {
        storage: Arc::new(storage),
        find: Some(Arc::new(find::IndexFind(store.index().clone()))),
        retrieve: Some(Arc::new(StoredInstances(store.clone()))),
        nodes: Some(Arc::new(KnownNodes(Nodes::of_store(&store)))),
        observer,
    };
    Ok(services)
}
