{{ rejected_from('base_erp__returns', 'return_id') }}
