"""Jobs, one module each, grouped by domain. Importing a module registers its job."""
