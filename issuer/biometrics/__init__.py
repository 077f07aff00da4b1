"""Biometric templates captured at enrolment: stored, never handed out again."""
