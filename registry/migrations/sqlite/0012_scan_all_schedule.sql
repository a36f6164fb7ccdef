-- Scan-all runs on the durable job queue (kind `scan_all`), whose schedules
-- table now keeps its schedule: move the one the security service kept in
-- `settings`. The cron cannot be evaluated here, so a moved schedule fires
-- once at the next start (a rescan after an upgrade is wanted anyway: reports
-- stored before 0007 are queued again) and then follows its cron.
INSERT OR IGNORE INTO job_schedules (kind, type, cron, parameters, next_run_at, created_at, updated_at)
SELECT 'scan_all',
       json_extract(value, '$.type'),
       coalesce(json_extract(value, '$.cron'), ''),
       '{}',
       CASE WHEN coalesce(json_extract(value, '$.cron'), '') = '' THEN NULL ELSE unixepoch() END,
       unixepoch(), unixepoch()
FROM settings
WHERE key = 'scan_all_schedule' AND json_valid(value);

DELETE FROM settings WHERE key = 'scan_all_schedule';
