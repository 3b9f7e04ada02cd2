{#
  The ml.* tables are written by the Dagster ml assets (ml/ in Python), after the marts they
  read, and customer_360 joins some of them back in. On a fresh warehouse (first run, or dbt
  run alone in a test) they do not exist yet: create every ml source that a model reads,
  empty, with the columns and types of its source definition (_ml__sources.yml, generated
  from contracts/ml_outputs.py), so dbt never fails on a missing relation. The ml assets
  replace them wholesale.
#}
{% macro ensure_ml_sources() %}
    {%- if execute %}
        {%- set read_by_models = [] %}
        {%- for node in graph.nodes.values() if node.resource_type == 'model' %}
            {%- do read_by_models.extend(node.depends_on.nodes) %}
        {%- endfor %}
        create schema if not exists ml;
        {%- for source in graph.sources.values()
                if source.source_name == 'ml' and source.unique_id in read_by_models %}
        create table if not exists {{ source.schema }}.{{ source.identifier }} (
            {%- for column in source.columns.values() %}
            {{ column.name }} {{ column.data_type }}{{ "," if not loop.last }}
            {%- endfor %}
        );
        {%- endfor %}
    {%- endif %}
{% endmacro %}
