-- Per source table: raw rows and where each went. balanced is false when
-- raw != staged + rejected + duplicate + superseded (the per-model reconciles_with_raw tests
-- fail the build in that case; this table is what stewards and the quality scorecard read).
{%- set tables = [
    ('raw_erp', 'members', 'erp'), ('raw_erp', 'products', 'erp'), ('raw_erp', 'stores', 'erp'),
    ('raw_erp', 'sales_orders', 'erp'), ('raw_erp', 'sales_order_lines', 'erp'),
    ('raw_erp', 'returns', 'erp'), ('raw_ecommerce', 'customers', 'ecommerce'),
    ('raw_ecommerce', 'sessions', 'ecommerce'), ('raw_ecommerce', 'events', 'ecommerce'),
    ('raw_ecommerce', 'orders', 'ecommerce'), ('raw_ecommerce', 'reviews', 'ecommerce'),
    ('raw_service', 'contacts', 'service_desk'), ('raw_service', 'tickets', 'service_desk'),
    ('raw_service', 'surveys', 'service_desk'),
] %}
with counts as (
    {%- for schema, table, system in tables %}
    select
        '{{ schema }}.{{ table }}' as source_table,
        (select count(*) from {{ source(schema, table) }}) as raw_rows,
        (select count(*) from {{ ref('stg_' ~ system ~ '__' ~ table) }}) as staged_rows,
        (
            select count(*) from {{ ref('stg_' ~ system ~ '__' ~ table ~ '_rejected') }}
        ) as rejected_rows,
        (
            select count(*) from {{ ref('base_' ~ system ~ '__' ~ table) }}
            where _disposition = 'duplicate'
        ) as duplicate_rows,
        (
            select count(*) from {{ ref('base_' ~ system ~ '__' ~ table) }}
            where _disposition = 'superseded'
        ) as superseded_rows
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    *,
    raw_rows = staged_rows + rejected_rows + duplicate_rows + superseded_rows as balanced
from counts
