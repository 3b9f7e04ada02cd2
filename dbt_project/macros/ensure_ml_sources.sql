{#
  The ml.* tables are written by the Dagster ml assets (ml/ in Python), after the marts they
  read, and customer_360 joins them back in. On a fresh warehouse (first run, or dbt run
  alone in a test) they do not exist yet: create them empty, with the columns customer_360
  reads, so dbt never fails on a missing relation. The ml assets replace them wholesale.
#}
{% macro ensure_ml_sources() %}
    create schema if not exists ml;
    create table if not exists ml.churn_scores (
        customer_key varchar, churn_probability double, risk_band varchar,
        reason_1 varchar, reason_2 varchar, reason_3 varchar, model_name varchar,
        model_version varchar, as_of_date date, scored_at timestamp);
    create table if not exists ml.clv_scores (
        customer_key varchar, probability_alive double, expected_purchases_12m double,
        probability_no_purchase_12m double, expected_order_value double,
        expected_revenue_12m double, margin_rate double, clv_12m double,
        simple_rule_clv double, frequency bigint, days_since_last_purchase bigint,
        tenure_days bigint, model_version varchar, as_of_date date, scored_at timestamp);
    create table if not exists ml.customer_clusters (
        customer_key varchar, cluster_id bigint, cluster_label varchar,
        distance_to_center double, model_version varchar, as_of_date date,
        scored_at timestamp);
{% endmacro %}
