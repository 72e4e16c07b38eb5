-- The latest refresh token of this client, if the row still belongs to this configured token.
SELECT refresh_token, generation
FROM ops.beproduct_api_token
WHERE client_id = %(client_id)s AND configured_token_sha256 = %(configured_sha256)s
