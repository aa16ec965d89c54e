//! The one place Deps is assembled on the embedded adapters: the local runner, the integration
//! tests and the benchmarks all build theirs here (AWS builds its own in `nhip-wiring`). The
//! five queues live in the SQLite file beside the store; every channel goes to the outbox.

use std::path::PathBuf;
use std::sync::Arc;

use nhip_core::auth::Authenticator;
use nhip_core::{BuildInfo, Channels, Deps, Queues, Settings};
use nhip_local::{Database, FolderBlobStore, LocalEventBus, LocalQueue, Outbox, SimulatedClock};
use nhip_ports::ItemStore;
use nhip_ports::certificates::CertificateSource;

/// What differs between the embedded assemblies; everything else is the same.
pub struct Embedded {
    /// The SQLite file of the queues and the event bus (and, usually, of the store).
    pub db: Arc<Database>,
    /// The item store: SQLite on `db`, or a wrapper around it (a benchmark's counter).
    pub store: Arc<dyn ItemStore>,
    /// The simulated clock.
    pub clock: Arc<SimulatedClock>,
    /// Where every channel sends.
    pub outbox: Arc<Outbox>,
    /// The folder of attachments and reports.
    pub blobs: PathBuf,
    /// Staff authentication.
    pub auth: Authenticator,
    /// The route settings.
    pub settings: Settings,
    /// The SNS signing-certificate source.
    pub sns_certificates: Arc<dyn CertificateSource>,
    /// Receives before a queue message goes to its dead-letter queue; `None`: no dead-letter
    /// queue (a benchmark that never fails a message).
    pub max_receives: Option<u32>,
    /// The runtime `GET /v1/version` names: `local`, `test`, `bench`.
    pub runtime: &'static str,
}

impl Embedded {
    /// The Deps of these parts, with the event bus on `db`.
    pub fn deps(self) -> (Deps, Arc<LocalEventBus>) {
        let queue = |name: &'static str| -> Arc<dyn nhip_ports::Queue> {
            let queue = LocalQueue::new(self.db.clone(), name, self.clock.clone());
            Arc::new(match self.max_receives {
                Some(max) => queue.with_dead_letter_queue(max),
                None => queue,
            })
        };
        let bus = Arc::new(LocalEventBus::new(self.db.clone()));
        let deps = Deps {
            store: self.store,
            queues: Queues {
                events: queue("events"),
                sends: queue("sends"),
                steps: queue("steps"),
                tickets: queue("tickets"),
                imports: queue("imports"),
            },
            clock: self.clock,
            build: BuildInfo::current(self.runtime),
            auth: Arc::new(self.auth),
            settings: self.settings,
            channels: Channels::uniform(self.outbox),
            blobs: Arc::new(FolderBlobStore::new(self.blobs)),
            sns_certificates: self.sns_certificates,
            bus: bus.clone(),
            versions: Default::default(),
            identity: None,
            feed: Some(Arc::new(nhip_local::LocalFeed::new(self.db.clone()))),
            groups: Some(self.db.clone()),
            zalo_oauth: None,
        };
        (deps, bus)
    }
}
