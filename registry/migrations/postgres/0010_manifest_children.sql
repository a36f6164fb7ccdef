-- An index's references to its child manifests (`kind = 'manifest'`), on their
-- own. They are few (most manifests are images, whose references are blobs), and
-- the planner knows it: for an artifact page's sizes and for garbage
-- collection's mark, which follow them from a handful of manifests, it then
-- read all of `manifest_references` (every layer and config reference of the
-- registry: 32 ms for a page of ten against 80,000 references) rather than
-- probe the primary key once per manifest. Through this index the probe is the
-- cheaper plan however the estimate comes out (0.8 ms).
CREATE INDEX manifest_children ON manifest_references (manifest_id, digest) WHERE kind = 'manifest';
