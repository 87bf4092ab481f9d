"""Dagster resources: thin ``ConfigurableResource`` wrappers around the plain libraries."""
