-- Products typed, prices converted to the reporting currency, classified.
with src as (
    select * from {{ source('raw_erp', 'products') }}
),

typed as (
    select
        {{ clean_text('src.product_id') }} as product_id,
        {{ clean_text('src.product_name') }} as product_name,
        lower({{ clean_text('src.category') }}) as category,
        {{ clean_text('src.brand') }} as brand,
        upper({{ clean_text('src.currency') }}) as source_currency,
        {{ to_reporting_currency(parse_amount('src.unit_cost', 'erp')) }} as unit_cost,
        {{ to_reporting_currency(parse_amount('src.unit_price', 'erp')) }} as unit_price,
        {{ parse_bool('src.is_active') }} as is_active,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        fx.usd_per_unit is null as _unknown_currency,
        {{ parse_amount('src.unit_cost', 'erp') }} as _unit_cost_parsed,
        {{ parse_amount('src.unit_price', 'erp') }} as _unit_price_parsed,
        {{ row_hash(['product_id', 'product_name', 'category', 'brand', 'unit_cost',
                     'unit_price', 'currency', 'is_active', 'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
    {{ fx_join('src.currency') }}
),

checked as (
    select
        * exclude (_unknown_currency, _unit_cost_parsed, _unit_price_parsed),
        case
            when product_id is null then 'MISSING_KEY'
            when updated_at is null then 'INVALID_DATE'
            when {{ implausible_ts('updated_at') }} then 'IMPOSSIBLE_DATE'
            when _unit_cost_parsed is null or _unit_price_parsed is null then 'UNPARSEABLE_AMOUNT'
            when _unit_cost_parsed < 0 or _unit_price_parsed < 0 then 'NEGATIVE_AMOUNT'
            when _unknown_currency then 'UNKNOWN_CODE'
            when is_active is null then 'UNKNOWN_CODE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='product_id', version='updated_at') }}
