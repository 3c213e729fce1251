"""The durable queue: the store (the only owner of SQL), leases, the lease keeper, and who grades."""
