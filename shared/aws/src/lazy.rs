//! Clients built on their first use rather than at a function's start.
//!
//! Every function builds the same `Deps` through `nhip-wiring`, with every SDK client and
//! HTTPS client Nhịp has, but most functions use two or three of them: the
//! events consumer never sends an e-mail, the scheduler never stores a blob. Built at start,
//! each SDK client parses its SDK's endpoint partitions and compiles their patterns, and each
//! HTTPS client builds a TLS configuration with its root certificates: about 0.2 ms apiece, on
//! every cold start (docs/performance.md, "Lambda cold start"). A [`Lazy`] client is built the
//! first time a request goes through it, once per process, and never if none does.
//!
//! A [`Lazy`] is `std::sync::LazyLock` behind an `Arc`, so adapters that share one client
//! (the five queues on one SQS client) share one build, and a method call reaches the client
//! through `Deref` as if it were the client itself.

use std::sync::{Arc, LazyLock};

/// A client built on first use and shared by every clone.
pub type Lazy<T> = Arc<LazyLock<T, Box<dyn FnOnce() -> T + Send>>>;

/// `make` is run the first time the client is used.
pub fn on_first_use<T>(make: impl FnOnce() -> T + Send + 'static) -> Lazy<T> {
    Arc::new(LazyLock::new(Box::new(make)))
}

/// A client built already (tests, and callers that build their own).
pub fn ready<T: Send + 'static>(client: T) -> Lazy<T> {
    on_first_use(move || client)
}

/// The SDK client `new` makes from `sdk`, made on first use.
pub fn sdk_client<C: 'static>(
    sdk: &aws_config::SdkConfig,
    new: fn(&aws_config::SdkConfig) -> C,
) -> Lazy<C> {
    let sdk = sdk.clone();
    on_first_use(move || new(&sdk))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn a_lazy_client_is_built_once_on_first_use_and_shared_by_its_clones() {
        static BUILT: AtomicUsize = AtomicUsize::new(0);
        let client = on_first_use(|| {
            BUILT.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let shared = client.clone();
        assert_eq!(BUILT.load(Ordering::SeqCst), 0, "nothing built before use");
        assert_eq!(client.len(), 6);
        assert_eq!(shared.as_str(), "client");
        assert_eq!(BUILT.load(Ordering::SeqCst), 1, "built once for both");
    }
}
