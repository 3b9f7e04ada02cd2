{{ staged_from('base_erp__sales_order_lines') }}
