"""Reporters: each turns :class:`grader.results.SubmissionResult` objects into one format."""
