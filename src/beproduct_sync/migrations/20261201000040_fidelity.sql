-- Backfill checkpoints remember the page size the server actually used: BeProduct caps
-- pageSize silently, so a walk that asked for more continues (and resumes) in steps of the
-- size it got. NULL: the run's own page size.
ALTER TABLE ops.backfill_checkpoint ADD COLUMN IF NOT EXISTS page_size integer;
