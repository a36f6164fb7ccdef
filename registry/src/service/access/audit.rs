//! The audit log: entries queued on the request path, written in batches by one task.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Access;
use crate::auth::{Principal, project_of};
use crate::metadata::IdentityStore;
use crate::metadata::identity::AuditEntry;
use crate::metadata::now;

/// Audit entries are written in batches by one task, off the request path.
pub(super) async fn write_audit(
    identity: Arc<dyn IdentityStore>,
    mut rx: mpsc::Receiver<AuditEntry>,
) {
    let mut batch = Vec::with_capacity(4096);
    while rx.recv_many(&mut batch, 4096).await > 0 {
        // Let a burst gather: a few large transactions cost far less than
        // many small ones (each commit grows the WAL towards a checkpoint).
        tokio::time::sleep(Duration::from_millis(100)).await;
        while batch.len() < 32_768 {
            match rx.try_recv() {
                Ok(entry) => batch.push(entry),
                Err(_) => break,
            }
        }
        if let Err(e) = identity.append_audit(&batch).await {
            tracing::error!(error = %e, lost = batch.len(), "writing the audit log failed");
        }
        batch.clear();
    }
}

impl Access {
    /// Record a login attempt: `operation` login or login_failed, `resource_type`
    /// the authentication mode that decided, the user name as the resource.
    pub fn audit_login(&self, username: &str, mode: &str, ok: bool, client_ip: Option<&str>) {
        let who = if ok { username } else { "anonymous" };
        self.queue_audit(AuditEntry {
            id: 0,
            op_time: now(),
            username: who.to_string(),
            operation: if ok { "login" } else { "login_failed" }.to_string(),
            resource_type: mode.to_string(),
            project: None,
            resource: username.to_string(),
            client_ip: client_ip.map(str::to_owned),
        });
    }

    /// Record an operation in the audit log (no-op without authentication).
    pub fn audit(
        &self,
        who: &Principal,
        operation: &str,
        resource_type: &str,
        resource: &str,
        client_ip: Option<&str>,
    ) {
        self.queue_audit(AuditEntry {
            id: 0,
            op_time: now(),
            username: who.name().to_string(),
            operation: operation.to_string(),
            resource_type: resource_type.to_string(),
            project: Some(
                project_of(resource)
                    .split(':')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )
            .filter(|p| !p.is_empty() && resource_type != "user"),
            resource: resource.to_string(),
            client_ip: client_ip.map(str::to_owned),
        });
    }

    fn queue_audit(&self, entry: AuditEntry) {
        let Some(auth) = &self.auth else { return };
        if auth.audit.try_send(entry).is_err() {
            // Warn on the 1st, 2nd, 4th, 8th… drop: a full queue must not also flood the log.
            let n = auth
                .dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "audit log queue is full; entries were dropped");
            }
        }
    }
}
