"""The course: its calendar (deadlines, late policy, release) and each student's standing."""
