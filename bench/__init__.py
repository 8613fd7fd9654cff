"""On-demand benchmarks (not tests). Each script prints a table and can write JSON."""
