"""Sales and check-in figures for organisers (the stats API and the back office dashboard)."""
