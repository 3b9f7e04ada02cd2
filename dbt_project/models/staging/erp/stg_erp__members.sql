{{ staged_from('base_erp__members') }}
