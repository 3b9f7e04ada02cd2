{{ rejected_from('base_erp__sales_orders', 'order_id') }}
