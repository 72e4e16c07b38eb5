-- Style- (or material-) in-plan records (one or many; ids unique within a call). Independently versioned groups:
--   header    (every event):                        plan, company, style header, number, name
--   record    (OnCreate / OnDelete):                modified, raw_payload
--   colour, size, supplier (OnCreate / OnDelete, and an OnChange carrying the field)
--   lifecycle (OnCreate / OnDelete):                active, deleted_at
-- raw_payload follows the record group, or the header group while no full record was seen.
-- A header field the winning event lacks (API rows carry no company id, a retirement no header)
-- is filled from any event that has it, newer or older: otherwise whether it is ever filled
-- would depend on arrival order. Such a fill counts as a change (the event is `applied`).
INSERT INTO {record_table} AS t (
    id, plan_id, company_id, style_header_id, style_number, style_name, header_folder_id,
    header_folder_name, color_id, color_name, color_number, size, supplier_name, suppliers,
    modified_at, modified_by, active, deleted_at, source_updated_at, raw_payload,
    header_version, record_version, color_version, size_version, supplier_version,
    lifecycle_version)
SELECT x.id, x.plan_id, x.company_id, x.style_header_id, x.style_number, x.style_name,
       x.header_folder_id, x.header_folder_name, x.color_id, x.color_name, x.color_number, x.size,
       x.supplier_name, x.suppliers, x.modified_at, x.modified_by, x.active, x.deleted_at,
       x.source_updated_at, x.raw_payload, x.header_version, x.record_version,
       x.color_version, x.size_version, x.supplier_version, x.lifecycle_version
FROM jsonb_to_recordset(%(rows)s::jsonb) AS x(
    id uuid, plan_id uuid, company_id uuid, style_header_id uuid, style_number text,
    style_name text, header_folder_id uuid, header_folder_name text, color_id text,
    color_name text, color_number text, size text, supplier_name text, suppliers jsonb,
    modified_at timestamptz, modified_by text, active boolean, deleted_at timestamptz,
    source_updated_at timestamptz, raw_payload jsonb, header_version numeric,
    record_version numeric, color_version numeric, size_version numeric,
    supplier_version numeric, lifecycle_version numeric)
ON CONFLICT (id) DO UPDATE SET
    plan_id            = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN excluded.plan_id ELSE t.plan_id END,
    company_id         = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.company_id, t.company_id) ELSE coalesce(t.company_id, excluded.company_id) END,
    style_header_id    = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_header_id, t.style_header_id) ELSE coalesce(t.style_header_id, excluded.style_header_id) END,
    style_number       = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_number, t.style_number) ELSE coalesce(t.style_number, excluded.style_number) END,
    style_name         = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_name, t.style_name) ELSE coalesce(t.style_name, excluded.style_name) END,
    header_folder_id   = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.header_folder_id, t.header_folder_id) ELSE coalesce(t.header_folder_id, excluded.header_folder_id) END,
    header_folder_name = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.header_folder_name, t.header_folder_name) ELSE coalesce(t.header_folder_name, excluded.header_folder_name) END,
    header_version     = greatest(t.header_version, excluded.header_version),
    color_id           = CASE WHEN excluded.color_version > coalesce(t.color_version, -1) THEN excluded.color_id ELSE t.color_id END,
    color_name         = CASE WHEN excluded.color_version > coalesce(t.color_version, -1) THEN excluded.color_name ELSE t.color_name END,
    color_number       = CASE WHEN excluded.color_version > coalesce(t.color_version, -1) THEN excluded.color_number ELSE t.color_number END,
    color_version      = greatest(t.color_version, excluded.color_version),
    size               = CASE WHEN excluded.size_version > coalesce(t.size_version, -1) THEN excluded.size ELSE t.size END,
    size_version       = greatest(t.size_version, excluded.size_version),
    supplier_name      = CASE WHEN excluded.supplier_version > coalesce(t.supplier_version, -1) THEN excluded.supplier_name ELSE t.supplier_name END,
    suppliers          = CASE WHEN excluded.supplier_version > coalesce(t.supplier_version, -1) THEN excluded.suppliers ELSE t.suppliers END,
    supplier_version   = greatest(t.supplier_version, excluded.supplier_version),
    modified_at        = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.modified_at ELSE t.modified_at END,
    modified_by        = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.modified_by ELSE t.modified_by END,
    raw_payload        = CASE
                            WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.raw_payload
                            WHEN t.record_version IS NULL AND excluded.header_version > coalesce(t.header_version, -1) THEN excluded.raw_payload
                            ELSE t.raw_payload END,
    record_version     = greatest(t.record_version, excluded.record_version),
    active             = CASE WHEN excluded.lifecycle_version > coalesce(t.lifecycle_version, -1) THEN excluded.active ELSE t.active END,
    deleted_at         = CASE WHEN excluded.lifecycle_version > coalesce(t.lifecycle_version, -1) THEN excluded.deleted_at ELSE t.deleted_at END,
    lifecycle_version  = greatest(t.lifecycle_version, excluded.lifecycle_version),
    source_updated_at  = greatest(t.source_updated_at, excluded.source_updated_at),
    updated_at         = now()
WHERE excluded.header_version > coalesce(t.header_version, -1)
   OR excluded.record_version > coalesce(t.record_version, -1)
   OR excluded.color_version > coalesce(t.color_version, -1)
   OR excluded.size_version > coalesce(t.size_version, -1)
   OR excluded.supplier_version > coalesce(t.supplier_version, -1)
   OR excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)
   OR (t.company_id IS NULL AND excluded.company_id IS NOT NULL)
   OR (t.style_header_id IS NULL AND excluded.style_header_id IS NOT NULL)
   OR (t.style_number IS NULL AND excluded.style_number IS NOT NULL)
   OR (t.style_name IS NULL AND excluded.style_name IS NOT NULL)
   OR (t.header_folder_id IS NULL AND excluded.header_folder_id IS NOT NULL)
   OR (t.header_folder_name IS NULL AND excluded.header_folder_name IS NOT NULL)
RETURNING t.id::text AS id
