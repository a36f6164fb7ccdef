-- Each project's repository count, kept by a trigger instead of counted for every
-- project of every project-list page (as the artifact counts of 0009). Moving a
-- repository into a project (`create_project` adopting repositories pushed
-- before it existed) counts as leaving none and joining one.
ALTER TABLE projects ADD COLUMN repo_count BIGINT NOT NULL DEFAULT 0;

UPDATE projects p SET repo_count = (SELECT count(*) FROM repositories r WHERE r.project_id = p.id);

CREATE FUNCTION wharf_repo_count() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.project_id IS NOT DISTINCT FROM NEW.project_id THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.project_id IS NOT NULL THEN
        UPDATE projects SET repo_count = repo_count - 1 WHERE id = OLD.project_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.project_id IS NOT NULL THEN
        UPDATE projects SET repo_count = repo_count + 1 WHERE id = NEW.project_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER repo_count AFTER INSERT OR DELETE OR UPDATE OF project_id ON repositories
    FOR EACH ROW EXECUTE FUNCTION wharf_repo_count();
