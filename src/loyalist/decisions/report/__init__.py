"""Reports: the retention report, its sections, charts and page template."""
