-- Repositories name their project by id, not by a name prefix. Matching
-- `name LIKE project || '/%'` let the LIKE wildcard `_` (legal in project
-- names) match any character: project `a_b` saw the repositories of `axb`.
--
-- A repository belongs to the project named by the segment before its first
-- '/'. Single-segment repositories (`alpine`, possible with access control off)
-- and repositories pushed before their project was created have no project
-- (NULL) until a project of that name is created, which adopts them.
-- Projects with repositories are never deleted, so no ON DELETE action.
ALTER TABLE repositories ADD COLUMN project_id INTEGER REFERENCES projects(id);

UPDATE repositories
SET project_id = (
    SELECT p.id FROM projects p
    WHERE p.name = substr(repositories.name, 1, instr(repositories.name, '/') - 1)
)
WHERE instr(name, '/') > 0;

-- A project's repositories in name order: listing, counting, the delete check.
CREATE INDEX repositories_by_project ON repositories (project_id, name);
