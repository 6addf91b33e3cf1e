"""The exams domain: raw score files → exams.scores → grades, cut-offs and school report."""

# lakejobs.toml keys the exams jobs read ([defaults] or a profile): `grading_scheme`, the scheme
# exams.grade uses when a run names none (`jobs.exams.grading.profile_scheme`).
SETTING_KEYS = ("grading_scheme",)
