-- The artifact list (Harbor's `/artifacts`, newest first) reads one page of a
-- repository's manifests in push order. Without this index every request sorted
-- all of the repository's manifests (a temporary B-tree: O(n log n) per page).
-- Accessories (manifests with a subject) are never listed, so they are left out.
CREATE INDEX manifests_by_push ON manifests (repository_id, created_at DESC, digest)
    WHERE subject IS NULL;
