-- Who holds a running scan's lease: a token new for every claim. Renewing and
-- finishing check it, so a process that stalled past its lease (its scan
-- requeued and taken by another run) can neither extend nor overwrite that
-- run. NULL (scans running when this column was added) matches no owner: their
-- workers stop at the next renewal and the scan is requeued when the lease ends.
ALTER TABLE scan_reports ADD COLUMN lease_owner TEXT;
