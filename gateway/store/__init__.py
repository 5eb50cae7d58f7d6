"""The Redis store: core objects in and out of Redis; every key built by `keys`."""
