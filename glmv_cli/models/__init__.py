"""Model builds: the registry (models.toml) and where their files live."""
