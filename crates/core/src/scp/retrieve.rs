//! The C-GET and C-MOVE services of this node: the stored instances an identifier designates,
//! found with an IMAGE-level match over the index, and the known nodes a C-MOVE may send to.

use super::find::find;
use crate::index::Index;
use crate::nodes::Nodes;
use crate::store::Store;
use lightbox_dicom::parse::read_dataset;
use lightbox_dicom::tag;
use lightbox_dicom::transfer_syntax::Encoding;
use lightbox_dicom::write::DataSetBuilder;
use lightbox_dicom::DataSet;
use lightbox_net::dimse::c_get::{RetrieveHandler, StoredInstance};
use lightbox_net::dimse::c_move::{Destination, NodeDirectory};
use lightbox_net::query::{Level, QUERY_RETRIEVE_LEVEL};
use std::sync::Arc;

pub struct StoredInstances(pub Arc<Store>);

impl RetrieveHandler for StoredInstances {
    fn designate(&self, identifier: &DataSet) -> Result<Vec<StoredInstance>, String> {
        if identifier
            .first_text(QUERY_RETRIEVE_LEVEL)
            .and_then(|l| Level::parse(&l))
            .is_none()
        {
            return Err("missing or invalid Query/Retrieve Level".into());
        }
        let mut image_level = DataSetBuilder::default();
        image_level.text(QUERY_RETRIEVE_LEVEL, "IMAGE");
        for element in &identifier.elements {
            if element.tag != QUERY_RETRIEVE_LEVEL && element.tag != tag::SPECIFIC_CHARACTER_SET {
                image_level.text(
                    element.tag,
                    &identifier.element_text(element).unwrap_or_default(),
                );
            }
        }
        image_level.text(
            tag::SOP_INSTANCE_UID,
            &identifier.text(tag::SOP_INSTANCE_UID).unwrap_or_default(),
        );
        let query = read_dataset(
            &image_level.encode(Encoding::EXPLICIT_LE),
            Encoding::EXPLICIT_LE,
        )
        .map_err(|e| e.to_string())?;
        let index: &dyn Index = self.0.index().as_ref();
        let matches = find(index, &query).map_err(|e| e.to_string())?;
        let mut instances = Vec::new();
        for m in matches {
            let ds = read_dataset(&m.encode(Encoding::EXPLICIT_LE), Encoding::EXPLICIT_LE)
                .map_err(|e| e.to_string())?;
            let Some(uid) = ds.text(tag::SOP_INSTANCE_UID) else {
                continue;
            };
            if let Some(instance) = index.instance(&uid).map_err(|e| e.to_string())? {
                instances.push(StoredInstance {
                    path: self
                        .0
                        .local_path(&instance.file_path)
                        .map_err(|e| format!("cannot read instance {uid}: {e}"))?,
                    sop_class_uid: instance.sop_class_uid,
                    transfer_syntax: instance.transfer_syntax,
                });
            }
        }
        Ok(instances)
    }
}

/// The nodes of the data directory, read at each request so that nodes added while serving
/// count at once.
pub struct KnownNodes(pub Nodes);

impl NodeDirectory for KnownNodes {
    fn destination(&self, ae_title: &str) -> Option<Destination> {
        let node = self
            .0
            .list()
            .unwrap_or_default()
            .into_iter()
            .find(|n| n.dicomweb.is_none() && n.ae_title.trim() == ae_title.trim())?;
        let tls = match node.tls.as_ref().map(|tls| tls.config()).transpose() {
            Ok(tls) => tls,
            Err(e) => {
                tracing::warn!(node = %node.name, error = %e, "C-MOVE destination's TLS is unusable");
                return None;
            }
        };
        Some(Destination {
            address: node.address(),
            timeout: node.timeout(),
            tls,
        })
    }

    fn known_ae_titles(&self) -> Vec<String> {
        self.0
            .list()
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.ae_title)
            .collect()
    }
}
