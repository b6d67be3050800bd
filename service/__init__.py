"""How users reach Shelfsight: the `shelfsight` command line (and the HTTP service)."""
