"""Unbound Flask extensions, bound to the app in `create_app`; core's plumbing uses them too."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from portal.core.api import PortalApi
from portal.core.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
api = PortalApi()
limiter = Limiter(key_func=get_remote_address)
