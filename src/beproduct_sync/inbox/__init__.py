"""The durable inbox (`ops.beproduct_sync_log`): record received bodies, lease them to workers,
settle their outcomes, requeue them on request, and report on the queues."""
