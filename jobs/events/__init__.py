"""The events domain: raw service-log JSON lines → events.events → daily active users, retention."""
