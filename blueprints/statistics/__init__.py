"""Statistics (统计): the dashboard of figures for branch managers and HQ, charts and Excel exports."""
