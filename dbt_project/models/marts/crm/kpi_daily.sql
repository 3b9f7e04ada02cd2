-- Daily KPIs (definitions in _crm__models.yml); one row per day with orders in the data span.
{{ kpis('day') }}
