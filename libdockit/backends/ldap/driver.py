"""The one place ldap3 is imported, for the LDAP backend's modules.

Imported only when an LDAP authenticator is built (see :mod:`libdockit.backends.ldap.backend`), so
``import libdockit`` never loads ldap3.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # ldap3 2.9.1 imports pyasn1 names deprecated in pyasn1 0.6 (tagMap, typeMap); that one
    # import-time warning is ldap3's to fix, every other warning still surfaces.
    warnings.filterwarnings(
        "ignore", message=r"(tagMap|typeMap) is deprecated", category=DeprecationWarning
    )
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import parse_dn

__all__ = ["LDAPException", "escape", "ldap3", "parse_dn"]


def escape(value: str) -> str:
    """A value made safe for an LDAP filter (RFC 4515): ``*()\\`` and NUL escaped."""
    escaped: str = escape_filter_chars(value)
    return escaped
