"""Reports for reviewers: written from aggregates, DP statistics and the public schema only."""
