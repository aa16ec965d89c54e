//! Saved versions kept in memory: a published version of a journey (or of any versioned
//! document) never changes once saved, so once read it can be served from here for the life
//! of the process. Each feature keeps its own kind of version under its own name; the cache
//! holds them type-erased, so this crate needs to know none of them. Bounded: past
//! [`VersionCache::CAPACITY`] entries it starts afresh.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Entry = Arc<dyn Any + Send + Sync>;

/// Saved versions read so far, by kind, key and number.
#[derive(Default)]
pub struct VersionCache {
    versions: Mutex<HashMap<(&'static str, String, u32), Entry>>,
}

impl std::fmt::Debug for VersionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("VersionCache")
            .field("entries", &versions.len())
            .finish()
    }
}

impl VersionCache {
    /// Most versions kept.
    pub const CAPACITY: usize = 512;

    /// Version `number` of `key` of `kind`, if it was kept (and is a `T`).
    pub fn get<T: Any + Send + Sync>(
        &self,
        kind: &'static str,
        key: &str,
        number: u32,
    ) -> Option<Arc<T>> {
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let entry = versions.get(&(kind, key.to_owned(), number))?.clone();
        entry.downcast::<T>().ok()
    }

    /// Keeps version `number` of `key` of `kind`.
    pub fn put<T: Any + Send + Sync>(
        &self,
        kind: &'static str,
        key: &str,
        number: u32,
        version: Arc<T>,
    ) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if versions.len() >= Self::CAPACITY {
            versions.clear();
        }
        versions.insert((kind, key.to_owned(), number), version);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kept_by_kind_key_and_number_and_the_cache_is_bounded() {
        let cache = VersionCache::default();
        cache.put("journey", "a", 1, Arc::new("one".to_owned()));
        assert_eq!(
            cache
                .get::<String>("journey", "a", 1)
                .as_deref()
                .map(String::as_str),
            Some("one")
        );
        assert!(cache.get::<String>("journey", "a", 2).is_none());
        assert!(cache.get::<String>("template", "a", 1).is_none());
        assert!(
            cache.get::<u32>("journey", "a", 1).is_none(),
            "another type is not answered"
        );
        for n in 0..VersionCache::CAPACITY as u32 {
            cache.put("journey", "b", n, Arc::new(n));
        }
        assert!(
            cache.get::<String>("journey", "a", 1).is_none(),
            "the full cache started afresh"
        );
    }
}
