"""The Dagster layer: assets, checks, sensors and the ``dbmigrate`` command line."""
