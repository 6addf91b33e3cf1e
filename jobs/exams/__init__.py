"""The exams domain: raw score files → exams.scores → grades, cut-offs and school report."""
