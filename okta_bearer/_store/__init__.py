"""The Store protocol, the in-memory store, and leases over a store."""
