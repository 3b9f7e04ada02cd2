-- Items of staged web orders, typed and checked (prices in the reporting currency).
{#- A field of the row's item in the order's items JSON array, as text. #}
{%- set item_field = "json_extract_string(items.items, '$[' || (items.item_no - 1) || '].%s')" %}
with items as (
    select
        o.order_id,
        o.fx_rate,
        unnest(range(json_array_length(o.items)::bigint)) + 1 as item_no,
        o.items,
        o._source_system,
        o._source_object,
        o._source_row_number,
        o._batch_id,
        o._extracted_at
    from {{ ref('stg_ecommerce__orders') }} as o
),

typed as (
    select
        items.order_id || '-' || items.item_no as order_item_id,
        items.order_id,
        items.item_no,
        json_extract(items.items, '$[' || (items.item_no - 1) || ']') as _raw_item,
        {{ clean_text(item_field | format('product_id')) }} as product_id,
        {{ parse_int(item_field | format('quantity')) }} as quantity,
        round(
            {{ parse_amount(item_field | format('unit_price'), 'ecommerce') }} * items.fx_rate, 2
        )::decimal(18, 2) as unit_price,
        items._source_system,
        items._source_object,
        items._source_row_number,
        items._batch_id,
        items._extracted_at
    from items
)

select
    typed.*,
    case
        when typed.quantity is null then 'UNPARSEABLE_VALUE'
        when typed.quantity < 0 then 'NEGATIVE_QUANTITY'
        when typed.quantity = 0 then 'ZERO_QUANTITY'
        when typed.unit_price is null then 'UNPARSEABLE_AMOUNT'
        when typed.unit_price < 0 then 'NEGATIVE_AMOUNT'
        when p.product_id is null then 'UNKNOWN_PRODUCT'
    end as _reject_reason
from typed
left join {{ ref('stg_erp__products') }} as p on p.product_id = typed.product_id
