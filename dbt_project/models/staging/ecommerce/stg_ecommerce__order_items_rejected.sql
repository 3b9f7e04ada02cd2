select
    _reject_reason,
    order_id,
    item_no,
    _raw_item,
    _source_system,
    _source_object,
    _source_row_number,
    _batch_id,
    _extracted_at
from {{ ref('base_ecommerce__order_items') }}
where _reject_reason is not null
