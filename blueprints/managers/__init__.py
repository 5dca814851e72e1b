"""Customer managers and brokers: assignment of customers and handover (移交)."""
