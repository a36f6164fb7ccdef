-- Each repository's artifact count, kept by triggers instead of counted per
-- request (as SQLite's migration 0027; docs/design.md "Counts kept, not
-- counted"). An artifact is a manifest without a subject that no cosign
-- `sha256-<hex>.sig|.att|.sbom` tag names.
ALTER TABLE repositories ADD COLUMN artifact_count BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION wharf_is_cosign_tag(name TEXT) RETURNS BOOLEAN
LANGUAGE sql IMMUTABLE AS $$
    SELECT substr(name, 1, 7) = 'sha256-'
       AND (name LIKE '%.sig' OR name LIKE '%.att' OR name LIKE '%.sbom')
$$;

UPDATE repositories r SET artifact_count = (
    SELECT count(*) FROM manifests m
     WHERE m.repository_id = r.id AND m.subject IS NULL
       AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id
                         AND wharf_is_cosign_tag(t.name)));

-- How many cosign tags name the manifest, counted after its row is locked: two
-- transactions tagging or deleting the same manifest take turns, and each
-- statement of a PL/pgSQL function sees what the other committed.
CREATE FUNCTION wharf_cosign_tags_of(manifest BIGINT, listed OUT BOOLEAN, tags OUT BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT m.subject IS NULL INTO listed FROM manifests m WHERE m.id = manifest FOR UPDATE;
    SELECT count(*) INTO tags FROM tags t
     WHERE t.manifest_id = manifest AND wharf_is_cosign_tag(t.name);
END $$;

CREATE FUNCTION wharf_artifact_count_manifest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.subject IS NULL THEN
            UPDATE repositories SET artifact_count = artifact_count + 1 WHERE id = NEW.repository_id;
        END IF;
        RETURN NEW;
    END IF;
    -- BEFORE DELETE: its tags are still there to say whether it was listed.
    -- (The DELETE holds the row already; locking it again here would make
    -- PostgreSQL skip the delete as a row changed by its own command.)
    IF OLD.subject IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = OLD.id
                         AND wharf_is_cosign_tag(t.name)) THEN
            UPDATE repositories SET artifact_count = artifact_count - 1 WHERE id = OLD.repository_id;
        END IF;
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER artifact_count_manifest_insert AFTER INSERT ON manifests
    FOR EACH ROW EXECUTE FUNCTION wharf_artifact_count_manifest();
CREATE TRIGGER artifact_count_manifest_delete BEFORE DELETE ON manifests
    FOR EACH ROW EXECUTE FUNCTION wharf_artifact_count_manifest();

CREATE FUNCTION wharf_artifact_count_tag() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    c RECORD;
BEGIN
    -- The cosign tag left OLD's manifest (deleted or moved): its last one gone,
    -- a manifest that still exists is an artifact again. (Cascaded from the
    -- manifest's own delete, the row is gone and `listed` is NULL.)
    IF TG_OP IN ('DELETE', 'UPDATE') AND wharf_is_cosign_tag(OLD.name)
       AND (TG_OP = 'DELETE' OR OLD.manifest_id <> NEW.manifest_id) THEN
        c := wharf_cosign_tags_of(OLD.manifest_id);
        IF c.listed AND c.tags = 0 THEN
            UPDATE repositories SET artifact_count = artifact_count + 1 WHERE id = OLD.repository_id;
        END IF;
    END IF;
    -- The first cosign tag of NEW's manifest makes it an accessory.
    IF TG_OP IN ('INSERT', 'UPDATE') AND wharf_is_cosign_tag(NEW.name)
       AND (TG_OP = 'INSERT' OR OLD.manifest_id <> NEW.manifest_id) THEN
        c := wharf_cosign_tags_of(NEW.manifest_id);
        IF c.listed AND c.tags = 1 THEN
            UPDATE repositories SET artifact_count = artifact_count - 1 WHERE id = NEW.repository_id;
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER artifact_count_tag AFTER INSERT OR DELETE OR UPDATE OF manifest_id ON tags
    FOR EACH ROW EXECUTE FUNCTION wharf_artifact_count_tag();

-- A repository's last push (the repository list's `update_time`): one probe.
CREATE INDEX manifests_by_created ON manifests (repository_id, created_at);
