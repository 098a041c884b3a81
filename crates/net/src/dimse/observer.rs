//! What the listener tells of each incoming association, for whoever keeps a record of them
//! (the core shows an association that stored instances as one activity on the jobs page).
//! The listener stays the same without an observer.

use crate::sink::Accepted;
use std::net::SocketAddr;

/// The other end of an association, as negotiated.
#[derive(Clone, Debug)]
pub struct Peer {
    pub calling_ae_title: String,
    pub called_ae_title: String,
    pub address: SocketAddr,
}

/// What became of one instance a peer sent.
#[derive(Clone, Copy, Debug)]
pub enum InstanceOutcome<'a> {
    /// Stored, or a duplicate of one stored already.
    Accepted(&'a Accepted),
    /// Refused, and why (the peer was told with a failure status).
    Refused(&'a str),
}

/// How an association ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssociationEnd {
    /// The peer released it.
    Released,
    /// The peer aborted it.
    Aborted,
    /// The link broke, went silent beyond the timeout, or a message could not be read; the
    /// listener aborted it.
    Broken(String),
}

/// Hears of each association once it is established.
pub trait AssociationObserver: Send + Sync {
    /// An association was established; what it does goes to the returned watch.
    fn established(&self, peer: &Peer) -> Box<dyn AssociationWatch>;
}

/// One association's record keeper. Called on the association's own thread, after each
/// response has gone out, so it must be quick.
pub trait AssociationWatch: Send {
    /// An instance arrived (`bytes`: its data set) and the peer has been answered.
    fn instance(&mut self, sop_instance_uid: &str, outcome: InstanceOutcome<'_>, bytes: u64);

    /// The association is over (everything it stored is searchable by now).
    fn ended(self: Box<Self>, end: AssociationEnd);
}
