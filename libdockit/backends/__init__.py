"""Backend protocols and implementations (memory, SQL via peewee, LDAP via ldap3)."""
