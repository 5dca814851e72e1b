"""The restriction's part of the customer page, registered with customers.page at start-up."""
from blueprints.customers import page as customer_page
from blueprints.id_expiry import services


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return services.panel_for(customer)
