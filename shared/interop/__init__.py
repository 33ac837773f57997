"""Converters: other systems' exports (Salesforce, HubSpot, any CSV with a mapping) turned into
bundle rows inside the import job's spool phase, so the one import pipeline stays the writer."""
