## policyd/ - elemta-policyd (Postfix policy service, rate limits).
## The daemon arrives with its own issue; its configuration section
## (policyd/policyd-options.c) is part of the shared schema already.
