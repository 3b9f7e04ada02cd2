{{ rejected_from('base_ecommerce__customers', 'customer_id') }}
