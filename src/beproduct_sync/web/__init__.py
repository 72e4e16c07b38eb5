"""HTTP: the webhook receiver and the operational endpoints. Handlers verify, call a service,
and answer with small JSON bodies; nothing here writes the ops tables itself."""
