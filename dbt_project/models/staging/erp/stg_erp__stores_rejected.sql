{{ rejected_from('base_erp__stores', 'store_id') }}
