{{ rejected_from('base_erp__members', 'member_id') }}
