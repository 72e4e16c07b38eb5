-- Wake the workers (they LISTEN on this channel); delivered when the transaction commits.
SELECT pg_notify('beproduct_sync_inbox', %(payload)s::text)
