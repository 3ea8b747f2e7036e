"""What grading leaves, on the host: grades.csv and the report, the course gradebook, LMS exports,
the late policy, and regrades of single students."""
