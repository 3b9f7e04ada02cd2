-- Monthly KPIs (definitions in _crm__models.yml), computed at month grain.
{{ kpis('month') }}
