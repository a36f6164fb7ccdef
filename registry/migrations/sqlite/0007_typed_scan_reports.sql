-- Scan reports are stored as the scanner's typed findings (`findings`), and the
-- Harbor report is rendered from them when asked. Reports written before this
-- migration are Harbor's rendered JSON (`vulnerabilities`), which cannot be
-- turned back into findings without loss: such scans go back to Pending and
-- are run again on the next start (the scan service resumes Pending scans).
-- Their severity and summary stay readable meanwhile.
UPDATE scan_reports
SET status = 'Pending', report = NULL, message = 'rescan: report format changed'
WHERE report IS NOT NULL AND json_type(report, '$.findings') IS NULL;
