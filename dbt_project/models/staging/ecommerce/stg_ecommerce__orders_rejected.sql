{{ rejected_from('base_ecommerce__orders', 'order_id') }}
