"""Neural-network building blocks shared by backbone plugins (plugins depend on the core only)."""
