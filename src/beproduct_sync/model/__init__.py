"""The heart of the sync, pure (no database, network or HTTP framework; an import contract
checks it): webhook bodies and REST rows in, typed row sets with source versions out.

    times        BeProduct timestamps to 100-ns ticks, instants and calendar dates
    coerce       tolerant conversions of optional values sent in more than one shape
    body         bytes → JSON, canonical form, digest, storable form, inbox metadata
    webhook      JSON → typed tracking event (tolerant pydantic models)
    rows         the row sets the writer takes (TypedDicts), versions, status mapping
    from_webhook event → row set
    from_rest    REST timeline row → row set (backfill, reconcile)
    from_rest_catalog  REST plan details and folders → rows (enrichment, backfill)
"""
