"""PDF/A-3b documents with WeasyPrint: rendering, and the fonts they print with."""
