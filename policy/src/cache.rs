//! Decisions by (policy-set version, image name, digest), bounded, each kept for a TTL.
//!
//! The name is part of the key besides the digest: the same manifest pushed under two
//! names can be covered by different policies (and `registries` rules judge the name).
//! The TTL bounds how stale a decision gets when facts change under a fixed digest (a new
//! signature, a new advisory in the DB, an allow-list entry expiring). Eviction is oldest
//! first; lookups take a short std mutex and never hold it across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::evaluate::Decision;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub policy_version: String,
    pub name: String,
    pub digest: String,
}

pub struct DecisionCache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, (Instant, Decision)>,
    /// Insertion order, for eviction (may hold keys already replaced; skipped then).
    order: VecDeque<(Key, Instant)>,
}

impl DecisionCache {
    /// A cache of at most `capacity` decisions, each fresh for `ttl`. Capacity 0 disables it.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity,
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// A fresh decision for `key`, if any.
    pub fn get(&self, key: &Key) -> Option<Decision> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match inner.map.get(key) {
            Some((at, d)) if at.elapsed() < self.ttl => Some(d.clone()),
            Some(_) => {
                inner.map.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn insert(&self, key: Key, decision: Decision) {
        if self.capacity == 0 {
            return;
        }
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.map.insert(key.clone(), (now, decision));
        inner.order.push_back((key, now));
        while inner.map.len() > self.capacity {
            let Some((k, at)) = inner.order.pop_front() else {
                break;
            };
            // Only evict if this queue entry is the live one (not a since-replaced insert).
            if inner.map.get(&k).is_some_and(|(t, _)| *t == at) {
                inner.map.remove(&k);
            }
        }
        // Keep the queue from growing without bound under repeated re-inserts.
        if inner.order.len() > 2 * self.capacity + 16 {
            let Inner { map, order } = &mut *inner;
            order.retain(|(k, at)| map.get(k).is_some_and(|(t, _)| t == at));
        }
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: &str, d: &str) -> Key {
        Key {
            policy_version: v.into(),
            name: "r.io/app".into(),
            digest: d.into(),
        }
    }

    fn decision(d: &str) -> Decision {
        Decision {
            allowed: true,
            image: "r.io/app:v1".into(),
            digest: d.into(),
            policy_version: "v1".into(),
            evaluated_at: String::new(),
            results: Vec::new(),
        }
    }

    #[test]
    fn hit_miss_and_policy_version_in_key() {
        let c = DecisionCache::new(10, Duration::from_secs(60));
        assert!(c.get(&key("v1", "sha256:a")).is_none());
        c.insert(key("v1", "sha256:a"), decision("sha256:a"));
        assert_eq!(c.get(&key("v1", "sha256:a")).unwrap().digest, "sha256:a");
        assert!(
            c.get(&key("v2", "sha256:a")).is_none(),
            "new policy version misses"
        );
        assert!(c.get(&key("v1", "sha256:b")).is_none());
    }

    #[test]
    fn bounded_oldest_evicted_first() {
        let c = DecisionCache::new(2, Duration::from_secs(60));
        c.insert(key("v", "1"), decision("1"));
        c.insert(key("v", "2"), decision("2"));
        c.insert(key("v", "1"), decision("1")); // re-insert refreshes 1
        c.insert(key("v", "3"), decision("3"));
        assert_eq!(c.len(), 2);
        assert!(
            c.get(&key("v", "2")).is_none(),
            "2 is the oldest live entry"
        );
        assert!(c.get(&key("v", "1")).is_some());
        assert!(c.get(&key("v", "3")).is_some());
        for i in 0..1000 {
            c.insert(key("v", "1"), decision(&i.to_string()));
        }
        assert!(c.inner.lock().unwrap().order.len() <= 2 * 2 + 16 + 1);
    }

    #[test]
    fn entries_expire_after_ttl() {
        let c = DecisionCache::new(10, Duration::from_millis(30));
        c.insert(key("v", "1"), decision("1"));
        assert!(c.get(&key("v", "1")).is_some());
        std::thread::sleep(Duration::from_millis(50));
        assert!(c.get(&key("v", "1")).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn zero_capacity_disables() {
        let c = DecisionCache::new(0, Duration::from_secs(60));
        c.insert(key("v", "1"), decision("1"));
        assert!(c.get(&key("v", "1")).is_none());
    }
}
