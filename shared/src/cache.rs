//! In-process caches that live as long as a warm Lambda container.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A map whose entries expire after a time to live. Values are cloned out (use `Arc` for big ones).
pub struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, k: &K) -> Option<V> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(k)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// How long ago the entry for `k` was stored, if there is one.
    pub fn age(&self, k: &K) -> Option<Duration> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(k).map(|(at, _)| at.elapsed())
    }

    pub fn put(&self, k: K, v: V) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.clear();
        }
        map.insert(k, (Instant::now(), v));
    }

    /// The cached value, or load it (a miss or an expired entry) and cache it.
    pub async fn get_or_load<E, F, Fut>(&self, k: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.get(k) {
            return Ok(v);
        }
        let v = load().await?;
        self.put(k.clone(), v.clone());
        Ok(v)
    }
}

/// One value loaded lazily and kept for a time to live; a failed load is not cached.
pub struct Lazy<V> {
    inner: TtlCache<(), Arc<V>>,
    loaded_at: Mutex<Option<Instant>>,
}

impl<V> Lazy<V> {
    pub fn new(ttl: Duration) -> Self {
        Lazy {
            inner: TtlCache::new(ttl),
            loaded_at: Mutex::new(None),
        }
    }

    pub async fn get<E, F, Fut>(&self, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        self.inner
            .get_or_load(&(), || async {
                let v = load().await?;
                *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                Ok(Arc::new(v))
            })
            .await
    }

    /// Drop the value so that the next `get` loads again, unless it was loaded less than `min_age` ago
    /// (so a stream of bad requests cannot turn into a stream of reloads). Returns whether it was dropped.
    pub fn invalidate_if_older_than(&self, min_age: Duration) -> bool {
        let loaded = *self.loaded_at.lock().unwrap_or_else(|e| e.into_inner());
        if loaded.is_some_and(|at| at.elapsed() < min_age) {
            return false;
        }
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loads_once_until_expiry() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(60));
        let mut calls = 0;
        for _ in 0..3 {
            let v: Result<u32, ()> = c
                .get_or_load(&"a", || {
                    calls += 1;
                    async { Ok(7) }
                })
                .await;
            assert_eq!(v, Ok(7));
        }
        assert_eq!(calls, 1);
        let expired: TtlCache<&str, u32> = TtlCache::new(Duration::ZERO);
        expired.put("a", 1);
        assert_eq!(expired.get(&"a"), None);
    }

    #[tokio::test]
    async fn lazy_failures_are_not_cached_and_reloads_are_rate_limited() {
        let l: Lazy<u32> = Lazy::new(Duration::from_secs(60));
        assert!(l.get(|| async { Err::<u32, &str>("down") }).await.is_err());
        assert_eq!(*l.get(|| async { Ok::<u32, &str>(1) }).await.unwrap(), 1);
        assert!(!l.invalidate_if_older_than(Duration::from_secs(60)));
        assert_eq!(*l.get(|| async { Ok::<u32, &str>(2) }).await.unwrap(), 1);
        assert!(l.invalidate_if_older_than(Duration::ZERO));
        assert_eq!(*l.get(|| async { Ok::<u32, &str>(2) }).await.unwrap(), 2);
    }
}
