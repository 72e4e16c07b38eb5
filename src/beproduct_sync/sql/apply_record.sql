-- A style- (or material-) in-plan record. Three independently versioned groups:
--   header    (every event):            plan, company, style header, number, name
--   record    (OnCreate / OnDelete):    colour, size, suppliers, modified, raw_payload
--   lifecycle (OnCreate / OnDelete):    active, deleted_at
-- raw_payload follows the record group, or the header group while no full record was seen.
INSERT INTO {record_table} AS t (
    id, plan_id, company_id, style_header_id, style_number, style_name, header_folder_id,
    header_folder_name, color_id, color_name, color_hex, size, supplier_name, suppliers,
    modified_at, modified_by, active, deleted_at, source_updated_at, raw_payload,
    header_version, record_version, lifecycle_version)
VALUES (
    %(id)s, %(plan_id)s, %(company_id)s, %(style_header_id)s, %(style_number)s, %(style_name)s,
    %(header_folder_id)s, %(header_folder_name)s, %(color_id)s, %(color_name)s, %(color_hex)s,
    %(size)s, %(supplier_name)s, %(suppliers)s, %(modified_at)s, %(modified_by)s, %(active)s,
    %(deleted_at)s, %(source_updated_at)s, %(raw_payload)s, %(header_version)s,
    %(record_version)s, %(lifecycle_version)s)
ON CONFLICT (id) DO UPDATE SET
    plan_id            = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN excluded.plan_id ELSE t.plan_id END,
    company_id         = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.company_id, t.company_id) ELSE t.company_id END,
    style_header_id    = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_header_id, t.style_header_id) ELSE t.style_header_id END,
    style_number       = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_number, t.style_number) ELSE t.style_number END,
    style_name         = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.style_name, t.style_name) ELSE t.style_name END,
    header_folder_id   = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.header_folder_id, t.header_folder_id) ELSE t.header_folder_id END,
    header_folder_name = CASE WHEN excluded.header_version > coalesce(t.header_version, -1) THEN coalesce(excluded.header_folder_name, t.header_folder_name) ELSE t.header_folder_name END,
    header_version     = greatest(t.header_version, excluded.header_version),
    color_id           = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.color_id ELSE t.color_id END,
    color_name         = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.color_name ELSE t.color_name END,
    color_hex          = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.color_hex ELSE t.color_hex END,
    size               = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.size ELSE t.size END,
    supplier_name      = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.supplier_name ELSE t.supplier_name END,
    suppliers          = CASE WHEN excluded.record_version > coalesce(t.record_version, -1) THEN excluded.suppliers ELSE t.suppliers END,
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
   OR excluded.lifecycle_version > coalesce(t.lifecycle_version, -1)
