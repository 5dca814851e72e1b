"""Products (HQ) and suitability matching from the customer page: recommend, refuse, record insistence."""
import secrets

from flask import Blueprint, abort, flash, make_response, render_template, request, url_for
from flask_login import current_user

from blueprints.customers import page as customer_page
from blueprints.customers import services as customer_services
from blueprints.customers.models import Customer
from blueprints.opening.scoring import class_label
from blueprints.products import forms, services
from blueprints.products.models import Product, Recommendation
from blueprints.products.rules import RISK_LEVEL_LABELS
from core import audit, files
from core.extensions import db
from core.render import page, see_other
from core.roles import Role
from core.security import roles_required
from core.timeutil import business_today

bp = Blueprint("products", __name__, url_prefix="/products")

# Who recommends products to a customer at the counter.
RECOMMENDING_ROLES = (Role.CLERK,)
VIEW_ROLES = (Role.CLERK, Role.REVIEWER, Role.RETURN_VISIT, Role.BRANCH_MANAGER, Role.HQ_ADMIN)


@bp.route("/")
@roles_required(Role.HQ_ADMIN)
def index():
    """List products with their risk levels and a form to add one."""
    return _products_page(forms.ProductForm(prefix="new", formdata=None, data={"on_sale": True}))


def _products_page(new_form, status: int = 200, failed_id=None, failed_form=None):
    products = services.all_products()
    edit_forms = {}
    for product in products:
        if product.id == failed_id:
            edit_forms[product.id] = failed_form
            continue
        form = forms.ProductForm(prefix=f"p{product.id}", formdata=None, obj=product)
        edit_forms[product.id] = form
    return page("products/index.html", status=status, products=products, new_form=new_form, edit_forms=edit_forms,
                risk_labels=RISK_LEVEL_LABELS, type_labels=forms.PRODUCT_TYPES)


@bp.route("/new", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def new():
    """Add a product."""
    form = forms.ProductForm(prefix="new")
    if not form.validate_on_submit():
        return _products_page(form, status=422)
    try:
        services.save_product(None, form.values(), current_user)
    except services.SuitabilityRefused as refused:
        form.code.errors.append(str(refused))
        return _products_page(form, status=422)
    flash("已新增产品。", "success")
    return see_other(url_for("products.index"))


@bp.route("/<int:product_id>", methods=["POST"])
@roles_required(Role.HQ_ADMIN)
def edit(product_id: int):
    """Change a product (its risk level, whether it is on sale)."""
    product = db.session.get(Product, product_id) or abort(404)
    form = forms.ProductForm(prefix=f"p{product_id}")
    if not form.validate_on_submit():
        return _products_page(forms.ProductForm(prefix="new", formdata=None), status=422, failed_id=product_id,
                              failed_form=form)
    try:
        services.save_product(product, form.values(), current_user)
    except services.SuitabilityRefused as refused:
        form.code.errors.append(str(refused))
        return _products_page(forms.ProductForm(prefix="new", formdata=None), status=422, failed_id=product_id,
                              failed_form=form)
    flash(f"产品 {product.code} 已保存。", "success")
    return see_other(url_for("products.index"))


def _customer_and_product():
    customer = customer_services.find_visible(current_user, (request.form.get("customer_no") or "").strip().upper())
    product = db.session.get(Product, int(request.form.get("product_id") or 0)) if (
        request.form.get("product_id") or "").isdigit() else None
    if customer is None or product is None or not product.on_sale:
        abort(404)
    return customer, product


@bp.route("/recommend", methods=["POST"])
@roles_required(*RECOMMENDING_ROLES)
def recommend():
    """Recommend a product to the customer; beyond their class the system refuses and records why."""
    customer, product = _customer_and_product()
    entry = services.recommend(customer, product, current_user, request.form.get("client_token"))
    if entry.outcome == "recommended":
        flash(f"已向客户推荐 {product.name}（{product.risk_level}）：{entry.message}。", "success")
    else:
        flash(f"不得推荐 {product.name}：{entry.message}。", "error")
    return see_other(url_for("customers.detail", customer_no=customer.customer_no) + "#products-panel")


@bp.route("/insist", methods=["POST"])
@roles_required(*RECOMMENDING_ROLES)
def insist():
    """Record that the customer insists on a product beyond their class, with the signed warning."""
    customer, product = _customer_and_product()
    form = forms.InsistForm()
    problem = None
    if not form.validate_on_submit():
        problem = "；".join(form.acknowledgement.errors) or "请刷新页面后重试"
    else:
        try:
            services.record_insistence(customer, product, current_user, form.acknowledgement.data.read(),
                                       form.client_token.data)
        except services.SuitabilityRefused as refused:
            problem = str(refused)
    if problem is None:
        flash(f"已记录：客户坚持购买 {product.name}，确认书已存档。", "success")
        # No #fragment: htmx follows HX-Redirect by assigning the location, and a change of hash alone would not reload.
        return see_other(url_for("customers.detail", customer_no=customer.customer_no))
    if request.htmx:
        context = panel_for(customer, current_user, failed={product.id: problem})
        response = make_response(render_template("products/_customer_panel.html", products_panel=context), 422)
        response.headers["Vary"] = "HX-Request"
        return response
    flash(f"未记录：{problem}", "error")
    return see_other(url_for("customers.detail", customer_no=customer.customer_no) + "#products-panel")


@bp.route("/recommendations/<int:entry_id>/acknowledgement")
@roles_required(*VIEW_ROLES)
def acknowledgement(entry_id: int):
    """Show a signed 风险不匹配警示及投资者确认书 (audited)."""
    entry = db.session.get(Recommendation, entry_id)
    customer = db.session.get(Customer, entry.customer_id) if entry else None
    if entry is None or entry.ack_sha256 is None or customer is None or \
            customer_services.find_visible(current_user, customer.customer_no) is None:
        abort(404)
    audit.record("suitability.acknowledgement_view", "customer", customer.customer_no, recommendation=entry.id)
    response = files.send(entry.ack_sha256, entry.ack_mime, f"acknowledgement-{entry.id}")
    response.headers["Cache-Control"] = "no-store, private"
    return response


def panel_for(customer, user, failed: dict | None = None) -> dict:
    assessment, standing, found = services.matches(customer)
    today = business_today()
    return {
        "customer_no": customer.customer_no, "assessment": assessment, "standing": standing,
        "valid": standing.valid(today), "ceiling": standing.ceiling(today),
        "class_label": class_label(assessment.investor_class, assessment.is_lowest) if assessment else None,
        "matches": found, "recommendations": services.recommendations_of(customer),
        "product_names": {m.product.id: m.product.name for m in found} | {
            p.id: p.name for p in services.all_products()},
        "may_recommend": user.role in RECOMMENDING_ROLES, "failed": failed or {},
        "token": secrets.token_urlsafe(16), "risk_labels": RISK_LEVEL_LABELS,
    }


@customer_page.contributes
def _on_the_customer_page(customer, user) -> dict:
    return {"products_panel": panel_for(customer, user)}
