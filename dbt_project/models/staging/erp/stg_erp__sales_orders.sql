{{ staged_from('base_erp__sales_orders') }}
