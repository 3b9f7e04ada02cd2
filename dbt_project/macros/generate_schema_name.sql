{#- Custom schemas are used as named (staging, intermediate, marts, snapshots), not prefixed
    with the target schema, so asset keys and BI table names are stable. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
