-- Who moved from which RFM segment to which, month over month (from customer_rfm_history).
-- A customer's first scored month has from_segment NULL (entered the scored base).
with h as (
    select
        customer_key,
        as_of_date,
        segment,
        lag(segment) over (partition by customer_key order by as_of_date) as from_segment,
        lag(as_of_date) over (partition by customer_key order by as_of_date) as from_as_of_date
    from {{ ref('customer_rfm_history') }}
)

select
    customer_key,
    from_as_of_date,
    as_of_date as to_as_of_date,
    from_segment,
    segment as to_segment,
    -- parenthesized: sqlfluff's duckdb dialect cannot parse a bare `is distinct from` here
    (from_segment is distinct from segment) as has_moved
from h
