"""Changes to customer information (资料变更): the businesses that change the record after opening."""
