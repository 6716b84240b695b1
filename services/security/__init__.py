"""Transport security: NATS identities and permissions, TLS files, MongoDB users."""
