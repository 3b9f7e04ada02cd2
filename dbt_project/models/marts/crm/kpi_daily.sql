-- Daily KPIs, one row per day: every column is a metric of the semantic layer
-- (models/metrics/_kpi__semantic_models.yml), compiled by the kpis macro at day grain.
-- The metrics' input models (dbt cannot see refs the macro makes at run time):
-- depends_on: {{ ref('fct_orders') }}
-- depends_on: {{ ref('kpi_customer_first_orders') }}
-- depends_on: {{ ref('kpi_churn_daily') }}
-- depends_on: {{ ref('fct_sessions') }}
-- depends_on: {{ ref('fct_tickets') }}
-- depends_on: {{ ref('fct_survey_responses') }}
{{ kpis('day') }}
