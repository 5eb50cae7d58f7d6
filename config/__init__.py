"""Configuration: typed settings (`settings`), loaded once from TOML and environment (`loader`)."""
