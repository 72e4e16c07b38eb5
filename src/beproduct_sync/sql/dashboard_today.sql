-- The read model's today (ops_api.today(): the server's date unless set for a what-if).
SELECT ops_api.today() AS today
