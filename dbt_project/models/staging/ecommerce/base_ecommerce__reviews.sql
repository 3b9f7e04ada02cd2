-- Product reviews typed and classified; ratings outside 1-5 and unknown SKUs are rejected.
with src as (
    select * from {{ source('raw_ecommerce', 'reviews') }}
),

typed as (
    select
        {{ clean_text('src.review_id') }} as review_id,
        {{ clean_text('src.customer_id') }} as customer_id,
        {{ clean_text('src.product_id') }} as product_id,
        {{ parse_int('src.rating') }} as rating,
        {{ clean_text('src.title') }} as title,
        {{ clean_text('src.body') }} as body,
        {{ parse_utc_ts('src.created_at') }} as created_at,
        p.product_id is null as _unknown_product,
        {{ row_hash(['review_id', 'customer_id', 'product_id', 'rating', 'title', 'body',
                     'created_at']) }} as _row_hash,
        {{ raw_row() }},
        {{ lineage_columns() }}
    from src
    left join {{ ref('stg_erp__products') }} as p
        on p.product_id = {{ clean_text('src.product_id') }}
),

checked as (
    select
        * exclude (_unknown_product),
        case
            when review_id is null then 'MISSING_KEY'
            when created_at is null then 'INVALID_DATE'
            when {{ implausible_ts('created_at') }} then 'IMPOSSIBLE_DATE'
            when rating is null then 'UNPARSEABLE_VALUE'
            when rating not between 1 and 5 then 'OUT_OF_RANGE'
            when _unknown_product then 'UNKNOWN_PRODUCT'
        end as _reject_reason
    from typed
),

{{ classify_rows('checked', key='review_id') }}
