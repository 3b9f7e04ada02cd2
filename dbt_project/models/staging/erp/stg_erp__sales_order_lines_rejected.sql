{{ rejected_from('base_erp__sales_order_lines', 'order_line_id') }}
