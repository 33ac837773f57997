"""Notifications: signed webhooks when a job ends (docs/notifications.md).

A job's final status and its webhook deliveries commit in one transaction (`hook`); a worker
task sends each delivery after that commit (`deliver`), retrying with back-off for a day; a
periodic task re-sends whatever a dead process left pending.
"""
