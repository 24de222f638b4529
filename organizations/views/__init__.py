"""Pages about the organization tree, one module per capability: home (the dashboard), logins, groups, grading and
supervision."""
