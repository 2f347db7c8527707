"""Time: the England working-day calendar, the timeline profiles, and the time-driven jobs."""
