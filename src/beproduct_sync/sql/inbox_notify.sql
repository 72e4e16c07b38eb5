-- Wake the workers (they LISTEN on this channel); delivered only when the transaction commits.
SELECT pg_notify('beproduct_sync_inbox', %(id)s::text)
