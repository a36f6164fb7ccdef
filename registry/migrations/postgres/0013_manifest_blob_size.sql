-- Each manifest keeps the total size of the blobs it references (its config and
-- layers, each once), so that an artifact page's sizes add one column per
-- manifest instead of looking up every layer's blob (docs/design.md, "One node
-- at scale on PostgreSQL": 0.16 to 0.08 ms of the page's statement).
--
-- Kept by a trigger, not by the statement that stores the manifest: replicas
-- still running the previous version during a rolling upgrade write references
-- without knowing of the column, and their manifests must count too. Blobs are
-- content-addressed (a digest's size never changes) and a manifest's references
-- are only ever added with it and removed with it (ON DELETE CASCADE), so
-- adding on insert is all there is to keep.
ALTER TABLE manifests ADD COLUMN blob_size BIGINT NOT NULL DEFAULT 0;

UPDATE manifests m SET blob_size = s.total
  FROM (SELECT br.manifest_id, sum(b.size) AS total
          FROM manifest_references br JOIN blobs b ON b.digest = br.digest
         WHERE br.kind = 'blob' GROUP BY br.manifest_id) s
 WHERE s.manifest_id = m.id;

-- Once per statement (a push inserts a manifest's references in one), over the
-- rows it really inserted (a re-push's ON CONFLICT DO NOTHING adds none).
CREATE FUNCTION wharf_manifest_blob_size() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE manifests m SET blob_size = m.blob_size + s.total
      FROM (SELECT n.manifest_id, sum(b.size) AS total
              FROM added n JOIN blobs b ON b.digest = n.digest
             WHERE n.kind = 'blob' GROUP BY n.manifest_id) s
     WHERE m.id = s.manifest_id;
    RETURN NULL;
END $$;

CREATE TRIGGER manifest_blob_size AFTER INSERT ON manifest_references
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION wharf_manifest_blob_size();
