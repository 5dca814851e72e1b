"""Service records (服务记录) and complaints (投诉) of customers, with their deadlines and reminders."""
