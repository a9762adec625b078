"""Users and groups from an LDAP directory (ldap3): :class:`LdapAuthenticator`.

``config`` is what an operator sets, ``driver`` the optional ldap3 import, ``tls`` its TLS
settings, ``directory`` the searches and binds, ``groups`` group membership (nested,
memberOf, posixGroup), ``deadline`` the total deadline and the bulkhead of every call.
"""

from .backend import LdapAuthenticator, require_driver
from .config import GroupSearch, LdapConfig, UserMatcher, UserSearch

__all__ = [
    "GroupSearch",
    "LdapAuthenticator",
    "LdapConfig",
    "UserMatcher",
    "UserSearch",
    "require_driver",
]
