-- One row per product review (the text stays in staging: free text may hold PII).
select
    r.review_id,
    m.customer_key,
    r.product_id,
    r.rating,
    r.created_at,
    r.created_at::date as review_date
from {{ ref('stg_ecommerce__reviews') }} as r
left join {{ ref('int_customer_identity_map') }} as m
    on m.source_table = 'customers' and m.source_id = r.customer_id
