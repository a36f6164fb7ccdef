//! Tag → digest cache with a time to live.
//!
//! Pods arrive in bursts (a Deployment scaled to 50 replicas is 50 reviews of
//! the same image), so concurrent lookups of one tag share one registry
//! request, and answers are kept for the TTL. Failures are never cached: the
//! next review tries again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

type Slot = Arc<OnceCell<(String, Instant)>>;

pub struct DigestCache {
    ttl: Duration,
    max_entries: usize,
    slots: Mutex<HashMap<String, Slot>>,
}

impl DigestCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        DigestCache {
            ttl,
            max_entries: max_entries.max(1),
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The cached digest for `key`, or the one `resolve` finds (shared with
    /// every concurrent caller for the same key). The flag is true when no
    /// request was made by this call.
    pub async fn get_or_resolve<F, Fut, E>(
        &self,
        key: &str,
        resolve: F,
    ) -> Result<(String, bool), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        if self.ttl.is_zero() {
            return resolve().await.map(|d| (d, false));
        }
        let slot = self.slot(key);
        let mut resolved_here = false;
        let (digest, _) = slot
            .get_or_try_init(|| {
                resolved_here = true;
                let fut = resolve();
                async move { fut.await.map(|d| (d, Instant::now())) }
            })
            .await?;
        Ok((digest.clone(), !resolved_here))
    }

    /// The live slot for `key`: a fresh one when absent or expired.
    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().expect("cache lock poisoned");
        let now = Instant::now();
        let expired = |s: &Slot| {
            s.get()
                .is_some_and(|(_, at)| now.duration_since(*at) >= self.ttl)
        };
        if let Some(s) = slots.get(key).filter(|s| !expired(s)) {
            return s.clone();
        }
        if slots.len() >= self.max_entries {
            slots.retain(|_, s| !expired(s));
            if slots.len() >= self.max_entries {
                // Still full of live entries: start over rather than grow without bound.
                slots.clear();
            }
        }
        let s = Slot::default();
        slots.insert(key.to_string(), s.clone());
        s
    }

    pub fn len(&self) -> usize {
        self.slots.lock().expect("cache lock poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn hits_within_ttl_and_refreshes_after() {
        let cache = DigestCache::new(Duration::from_millis(50), 100);
        let calls = AtomicUsize::new(0);
        let resolve = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>("sha256:a".to_string())
        };
        assert_eq!(
            cache.get_or_resolve("k", resolve).await,
            Ok(("sha256:a".into(), false))
        );
        assert_eq!(
            cache.get_or_resolve("k", resolve).await,
            Ok(("sha256:a".into(), true))
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(
            cache.get_or_resolve("k", resolve).await,
            Ok(("sha256:a".into(), false))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_request_and_errors_are_not_kept() {
        let cache = DigestCache::new(Duration::from_secs(60), 100);
        let calls = AtomicUsize::new(0);
        let slow = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>("sha256:b".to_string())
        };
        let (a, b) = tokio::join!(
            cache.get_or_resolve("k", slow),
            cache.get_or_resolve("k", slow)
        );
        assert_eq!(
            (a.unwrap().0, b.unwrap().0),
            ("sha256:b".into(), "sha256:b".into())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        assert_eq!(
            cache
                .get_or_resolve("e", || async { Err::<String, _>("down") })
                .await,
            Err("down")
        );
        let ok = cache
            .get_or_resolve("e", || async { Ok::<_, &str>("sha256:c".into()) })
            .await;
        assert_eq!(ok, Ok(("sha256:c".into(), false)));
    }

    #[tokio::test]
    async fn size_is_bounded() {
        let cache = DigestCache::new(Duration::from_secs(60), 3);
        for i in 0..10 {
            cache
                .get_or_resolve(&format!("k{i}"), || async { Ok::<_, ()>("d".to_string()) })
                .await
                .unwrap();
            assert!(cache.len() <= 3);
        }
    }
}
