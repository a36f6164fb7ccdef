-- A running scan is held by the process running it until `lease_until`, renewed
-- while it runs: several replicas share one queue, and a scan whose holder died
-- goes back to Pending once its lease ran out (never while its holder lives).
-- NULL (scans started before this column existed) counts as expired.
ALTER TABLE scan_reports ADD COLUMN lease_until BIGINT;
