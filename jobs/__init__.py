"""Jobs, one module each, grouped by domain: the registry finds each module's `JOB`."""
