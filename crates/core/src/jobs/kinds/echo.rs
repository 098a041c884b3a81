//! `echo`: whether a node answers (C-ECHO, or a small QIDO-RS request), and its round trip.

use crate::jobs::runner::LocalRunner;
use crate::jobs::spec::AssociationSettings;
use crate::jobs::JobFailure;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EchoOutput {
    pub node: String,
    /// `AET@host:port`, or the DICOMweb base URL.
    pub address: String,
    pub round_trip_ms: f64,
}

pub(crate) fn run(
    runner: &LocalRunner,
    node: &str,
    settings: &AssociationSettings,
) -> Result<EchoOutput, JobFailure> {
    let node = runner.node(node)?;
    let remote = runner.remote(&node, settings)?;
    let started = std::time::Instant::now();
    remote.echo()?;
    Ok(EchoOutput {
        node: node.name,
        address: remote.address(),
        round_trip_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}
