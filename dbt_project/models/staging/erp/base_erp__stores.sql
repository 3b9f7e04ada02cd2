-- Stores (and the WEB pseudo-store) typed and classified.
with src as (
    select * from {{ source('raw_erp', 'stores') }}
),

typed as (
    select
        upper({{ clean_text('src.store_id') }}) as store_id,
        {{ clean_text('src.store_name') }} as store_name,
        {{ clean_text('src.city') }} as city,
        upper({{ clean_text('src.country_code') }}) as country_code,
        {{ parse_local_ts('src.opened_at') }} as opened_at,
        {{ parse_local_ts('src.updated_at') }} as updated_at,
        {{ row_hash(['store_id', 'store_name', 'city', 'country_code', 'opened_at',
                     'updated_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
),

checked as (
    select
        *,
        case
            when store_id is null then 'MISSING_KEY'
            when updated_at is null then 'INVALID_DATE'
            when {{ implausible_ts('updated_at') }} then 'IMPOSSIBLE_DATE'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='store_id', version='updated_at') }}
