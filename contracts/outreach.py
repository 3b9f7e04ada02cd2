"""The ``outreach`` schema: contact lists built in Python, not by dbt.

Why a schema of its own: ``marts`` is what dbt builds; the suppression list, the win-back
list and the contact history are written by ``warehouse/pii/consent.py`` (Dagster asset
``consent_contact_lists``), and the schema name says so. The BI publication publishes this
schema next to ``marts``, ``ml`` and ``quality``.
"""

OUTREACH_SCHEMA = "outreach"
SUPPRESSION_LIST = "contact_suppression_list"
WINBACK_CONTACT_LIST = "winback_contact_list"
CONTACT_HISTORY = "contact_history"
OUTREACH_TABLES: tuple[str, ...] = (SUPPRESSION_LIST, WINBACK_CONTACT_LIST, CONTACT_HISTORY)
