"""A converted dataset: the record format, shards, manifest, validation and reading."""
