{{ rejected_from('base_erp__products', 'product_id') }}
