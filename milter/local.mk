## milter/ - elemta-milter (SPF, DKIM, DMARC, ARC, greylisting, ClamAV, Rspamd).
## The daemon arrives with its own issue; its configuration section
## (milter/milter-options.c) is part of the shared schema already.
