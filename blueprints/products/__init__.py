"""Products (产品) with their risk levels, and suitability matching (风险匹配原则) on the customer page."""
