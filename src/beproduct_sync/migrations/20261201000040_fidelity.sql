-- Backfill checkpoints remember the page size the server actually used: BeProduct caps
-- pageSize silently, so a walk that asked for more continues (and resumes) in steps of the
-- size it got. NULL: the run's own page size.
ALTER TABLE ops.backfill_checkpoint ADD COLUMN IF NOT EXISTS page_size integer;

-- A style (or material) row's colour, size and supplier are versioned each on their own: an
-- OnChange made by BeProduct's Edit API carries the record's fields but no milestone, and
-- claims exactly the fields it carries, so an older OnCreate arriving later still fills the
-- others. Existing rows were written by whole-record events: their version is record_version.
ALTER TABLE ops.tracking_plan_style
    ADD COLUMN IF NOT EXISTS color_version numeric,
    ADD COLUMN IF NOT EXISTS size_version numeric,
    ADD COLUMN IF NOT EXISTS supplier_version numeric;
ALTER TABLE ops.tracking_plan_material
    ADD COLUMN IF NOT EXISTS color_version numeric,
    ADD COLUMN IF NOT EXISTS size_version numeric,
    ADD COLUMN IF NOT EXISTS supplier_version numeric;
UPDATE ops.tracking_plan_style
SET color_version = record_version, size_version = record_version,
    supplier_version = record_version
WHERE record_version IS NOT NULL AND color_version IS NULL AND size_version IS NULL
  AND supplier_version IS NULL;
UPDATE ops.tracking_plan_material
SET color_version = record_version, size_version = record_version,
    supplier_version = record_version
WHERE record_version IS NOT NULL AND color_version IS NULL AND size_version IS NULL
  AND supplier_version IS NULL;
