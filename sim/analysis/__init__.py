"""What a run's history says: the checker, metrics, results, comparisons and plots."""
