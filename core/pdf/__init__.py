"""PDF/A-3b documents with WeasyPrint: rendering, the fonts they print with, and WeasyPrint speed-ups."""
