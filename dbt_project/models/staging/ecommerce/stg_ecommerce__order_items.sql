-- One row per item of a staged web order (the nested items JSON unnested). Items failing a
-- rule are in stg_ecommerce__order_items_rejected; the two together hold every item.
select * exclude (_reject_reason)
from {{ ref('base_ecommerce__order_items') }}
where _reject_reason is null
