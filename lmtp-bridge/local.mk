## lmtp-bridge/ - elemta-lmtp-bridge (LDAP-routed LMTP delivery into Dovecot).
## The daemon arrives with its own issue; its configuration section
## (lmtp-bridge/lmtp-options.c) is part of the shared schema already.
